import { readFileSync } from "node:fs";
import { type EnvReader } from "../config/env.ts";

/** Where verification keys come from: one of the three, chosen by which variable is set. */
export type KeySource =
  | { kind: "secret"; secret: Uint8Array }
  | { kind: "public-key"; file: string; pem: string }
  | { kind: "jwks"; url: string; cacheMaxAgeMs: number };

export type AuthConfig =
  | { mode: "none" }
  | {
    mode: "jwt";
    keys: KeySource;
    /** Tolerated clock difference between the token issuer and this service. */
    clockSkewSec: number;
    audience?: string;
    issuer?: string;
  };

/** HS256 secrets shorter than the hash are brute-forceable (RFC 7518 §3.2). */
export const MIN_SECRET_BYTES = 32;
const MAX_CLOCK_SKEW_SEC = 300;

const NO_AUTH_MESSAGE =
  "no authentication configured: set JETMESH_JWT_SECRET (HS256), JETMESH_JWT_PUBLIC_KEY_FILE (RS256/ES256/EdDSA) " +
  "or JETMESH_JWT_JWKS_URL; or set JETMESH_AUTH=none to run open to anyone (development only)";

function readKeys(r: EnvReader): KeySource | undefined {
  const secret = r.optional("JETMESH_JWT_SECRET");
  const file = r.optional("JETMESH_JWT_PUBLIC_KEY_FILE");
  const url = r.optional("JETMESH_JWT_JWKS_URL");
  const given = [secret, file, url].filter((v) => v !== undefined).length;
  r.check(
    "JETMESH_JWT_SECRET",
    given <= 1,
    "only one of JETMESH_JWT_SECRET, JETMESH_JWT_PUBLIC_KEY_FILE, JETMESH_JWT_JWKS_URL",
  );
  if (secret !== undefined) {
    const bytes = new TextEncoder().encode(secret);
    r.check(
      "JETMESH_JWT_SECRET",
      bytes.length >= MIN_SECRET_BYTES,
      `a secret of at least ${MIN_SECRET_BYTES} bytes`,
    );
    return { kind: "secret", secret: bytes };
  }
  if (file !== undefined) {
    let pem = "";
    try {
      pem = readFileSync(file, "utf8");
    } catch (err) {
      r.check(
        "JETMESH_JWT_PUBLIC_KEY_FILE",
        false,
        `a readable PEM file (${(err as Error).message})`,
      );
    }
    r.check(
      "JETMESH_JWT_PUBLIC_KEY_FILE",
      pem === "" || pem.includes("-----BEGIN PUBLIC KEY-----"),
      "a PEM public key (SPKI, -----BEGIN PUBLIC KEY-----)",
    );
    return { kind: "public-key", file, pem };
  }
  if (url !== undefined) {
    r.check(
      "JETMESH_JWT_JWKS_URL",
      /^https?:\/\/\S+$/.test(url),
      "an http(s) URL of a JSON Web Key Set",
    );
    return {
      kind: "jwks",
      url,
      cacheMaxAgeMs: r.durationMs("JETMESH_JWT_JWKS_CACHE", "10m", 1000),
    };
  }
  return undefined;
}

/**
 * The edges' authentication. With no key configured a service refuses to start
 * unless `JETMESH_AUTH=none` says, on purpose, that it runs open.
 */
export function readAuthConfig(r: EnvReader): AuthConfig {
  const mode = r.oneOf("JETMESH_AUTH", "jwt", ["jwt", "none"] as const);
  const keys = readKeys(r);
  if (mode === "none") {
    r.check(
      "JETMESH_AUTH",
      keys === undefined,
      "jwt when a JWT key is configured (unset JETMESH_AUTH or the key)",
    );
    return { mode: "none" };
  }
  r.check("JETMESH_AUTH", keys !== undefined, NO_AUTH_MESSAGE);
  const clockSkewSec = Math.round(r.durationMs("JETMESH_JWT_CLOCK_SKEW", "30s", 0) / 1000);
  r.check(
    "JETMESH_JWT_CLOCK_SKEW",
    clockSkewSec <= MAX_CLOCK_SKEW_SEC,
    `at most ${MAX_CLOCK_SKEW_SEC}s`,
  );
  return {
    mode: "jwt",
    keys: keys ?? { kind: "secret", secret: new Uint8Array(MIN_SECRET_BYTES) },
    clockSkewSec,
    audience: r.optional("JETMESH_JWT_AUDIENCE"),
    issuer: r.optional("JETMESH_JWT_ISSUER"),
  };
}
