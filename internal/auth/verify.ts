import {
  createRemoteJWKSet,
  type CryptoKey,
  errors as joseErrors,
  importSPKI,
  type JWTPayload,
  jwtVerify,
  type JWTVerifyGetKey,
  type KeyObject,
} from "jose";
import { checkChannelPattern, isPublisher } from "../../subjects/mod.ts";
import { JetmeshError } from "../errors/mod.ts";
import type { AuthConfig, KeySource } from "./config.ts";
import { VerifiedTokens } from "./cache.ts";
import type { Identity } from "./identity.ts";

/** Algorithms per key kind: a token can never pick a weaker one (or `none`) than its key allows. */
const ASYMMETRIC = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"] as const;
const SYMMETRIC = ["HS256", "HS384", "HS512"] as const;

/** The claim holding jetmesh's grants: `{"jetmesh": {"publish": [...], "subscribe": [...]}}`. */
export const GRANTS_CLAIM = "jetmesh";
const MAX_GRANTS = 64;

export interface Verifier {
  /** The caller a token proves, or a JetmeshError `unauthorized` saying why not. */
  verify(token: string): Promise<Identity>;
  /**
   * The caller of a token verified recently and still valid, without waiting; undefined
   * otherwise.
   */
  cached(token: string): Identity | undefined;
}

type Key = CryptoKey | KeyObject | Uint8Array | JWTVerifyGetKey;

async function keyOf(src: KeySource): Promise<{ key: Key; algorithms: string[] }> {
  switch (src.kind) {
    case "secret":
      return { key: src.secret, algorithms: [...SYMMETRIC] };
    case "jwks":
      // jose refetches on an unknown `kid` (rotation) no more than once per cooldown.
      return {
        key: createRemoteJWKSet(new URL(src.url), {
          cacheMaxAge: src.cacheMaxAgeMs,
          cooldownDuration: 30_000,
        }),
        algorithms: [...ASYMMETRIC],
      };
    case "public-key": {
      // A PEM does not say which algorithm it is for; the first that imports it is its family.
      const found: Record<string, CryptoKey | KeyObject> = {};
      for (const alg of ASYMMETRIC) {
        const key = await importSPKI(src.pem.trim(), alg).catch(() => undefined);
        if (key) found[alg] = key;
      }
      const algorithms = Object.keys(found);
      if (algorithms.length === 0) {
        throw new JetmeshError(
          "bad_config",
          `JETMESH_JWT_PUBLIC_KEY_FILE=${src.file}: not an RSA, EC or Ed25519 public key`,
        );
      }
      return { key: (header) => found[header.alg ?? ""] ?? Object.values(found)[0], algorithms };
    }
  }
}

function grants(value: unknown, name: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > MAX_GRANTS) {
    throw new JetmeshError(
      "unauthorized",
      `token claim ${GRANTS_CLAIM}.${name} must be a list of at most ${MAX_GRANTS} channel patterns`,
    );
  }
  for (const p of value) {
    const check = checkChannelPattern(p);
    if (!check.ok) {
      throw new JetmeshError(
        "unauthorized",
        `token claim ${GRANTS_CLAIM}.${name}: ${check.reason}`,
      );
    }
  }
  return value as string[];
}

/**
 * `graceSec` is the clock skew the verifier tolerates: a token it still accepts
 * must not get its connection closed, so the connection lasts as long.
 */
function identityOf(payload: JWTPayload, graceSec = 0): Identity {
  if (!isPublisher(payload.sub)) {
    throw new JetmeshError("unauthorized", "token sub must match [A-Za-z0-9_-]{1,64}");
  }
  const g = payload[GRANTS_CLAIM];
  if (g !== undefined && (typeof g !== "object" || g === null || Array.isArray(g))) {
    throw new JetmeshError("unauthorized", `token claim ${GRANTS_CLAIM} must be an object`);
  }
  const obj = (g ?? {}) as Record<string, unknown>;
  return {
    sub: payload.sub,
    expiresAt: ((payload.exp as number) + graceSec) * 1000,
    publish: grants(obj.publish, "publish"),
    subscribe: grants(obj.subscribe, "subscribe"),
    claims: payload,
  };
}

/** What a client may learn of why its token was refused: the reason, never key material. */
function refusal(err: unknown): JetmeshError {
  if (err instanceof JetmeshError) return err;
  if (err instanceof joseErrors.JWTExpired) {
    return new JetmeshError("unauthorized", "token expired");
  }
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    return new JetmeshError("unauthorized", `token claim ${err.claim} is invalid: ${err.reason}`);
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) {
    return new JetmeshError("unauthorized", "token signature is invalid");
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed) {
    return new JetmeshError("unauthorized", "token algorithm is not accepted");
  }
  if (err instanceof joseErrors.JWKSNoMatchingKey) {
    return new JetmeshError("unauthorized", "no key matches the token's kid");
  }
  if (err instanceof joseErrors.JOSEError) {
    return new JetmeshError("unauthorized", `token is invalid (${err.code})`);
  }
  return new JetmeshError("unauthorized", "token is invalid", { cause: err });
}

export async function createVerifier(cfg: Extract<AuthConfig, { mode: "jwt" }>): Promise<Verifier> {
  const { key, algorithms } = await keyOf(cfg.keys);
  const options = {
    algorithms,
    clockTolerance: cfg.clockSkewSec,
    requiredClaims: ["exp", "sub"],
    ...(cfg.audience === undefined ? {} : { audience: cfg.audience }),
    ...(cfg.issuer === undefined ? {} : { issuer: cfg.issuer }),
  };
  const recent = new VerifiedTokens();
  return {
    async verify(token) {
      const hit = recent.get(token);
      if (hit) return hit;
      if (token.length > 8192) {
        throw new JetmeshError("unauthorized", "token is longer than 8192 characters");
      }
      try {
        // jwtVerify's overloads split on the key's type; both branches take the same options.
        const { payload } = typeof key === "function"
          ? await jwtVerify(token, key, options)
          : await jwtVerify(token, key, options);
        const identity = identityOf(payload, cfg.clockSkewSec);
        recent.set(token, identity);
        return identity;
      } catch (err) {
        throw refusal(err);
      }
    },
    cached: (token) => recent.get(token),
  };
}
