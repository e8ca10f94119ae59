import t, { type Test } from "tap";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Env, EnvReader } from "../config/env.ts";
import { errorCode, errorMessage } from "../errors/mod.ts";
import { type AuthConfig, readAuthConfig } from "./config.ts";

const SECRET = "0123456789abcdef0123456789abcdef";

function read(env: Env): AuthConfig {
  const r = new EnvReader(env);
  const cfg = readAuthConfig(r);
  r.done();
  return cfg;
}

/** The bad_config message for `env`; fails the test when the config is accepted. */
function problem(t: Test, env: Env): string {
  try {
    read(env);
  } catch (err) {
    t.equal(errorCode(err), "bad_config");
    return errorMessage(err);
  }
  t.fail(`accepted: ${JSON.stringify(env)}`);
  return "";
}

t.test("secure by default: no key and no JETMESH_AUTH=none refuses to start, naming every way out", async (t) => {
  const msg = problem(t, {});
  for (
    const v of [
      "JETMESH_JWT_SECRET",
      "JETMESH_JWT_PUBLIC_KEY_FILE",
      "JETMESH_JWT_JWKS_URL",
      "JETMESH_AUTH=none",
    ]
  ) t.match(msg, v);
  t.match(
    problem(t, { JETMESH_AUTH: "jwt" }),
    "JETMESH_JWT_SECRET",
    "jwt said out loud, still no key",
  );
  t.match(problem(t, { JETMESH_AUTH: "off" }), /JETMESH_AUTH.*one of jwt, none/);
});

t.test("JETMESH_AUTH=none runs open, and only without a key", async (t) => {
  t.same(read({ JETMESH_AUTH: "none" }), { mode: "none" });
  t.match(
    problem(t, { JETMESH_AUTH: "none", JETMESH_JWT_SECRET: SECRET }),
    /JETMESH_AUTH.*jwt when a JWT key is configured/,
  );
});

t.test("a secret: at least 32 bytes, with the default skew", async (t) => {
  const cfg = read({ JETMESH_JWT_SECRET: SECRET });
  t.match(cfg, { mode: "jwt", keys: { kind: "secret" }, clockSkewSec: 30 });
  t.equal(
    cfg.mode === "jwt" && cfg.keys.kind === "secret" && new TextDecoder().decode(cfg.keys.secret),
    SECRET,
  );
  t.match(
    problem(t, { JETMESH_JWT_SECRET: SECRET.slice(1) }),
    /JETMESH_JWT_SECRET.*at least 32 bytes/,
    "31 bytes",
  );
});

t.test("one key source only", async (t) => {
  t.match(
    problem(t, {
      JETMESH_JWT_SECRET: SECRET,
      JETMESH_JWT_JWKS_URL: "https://auth.example.com/jwks.json",
    }),
    /only one of/,
  );
  t.match(
    problem(t, {
      JETMESH_JWT_PUBLIC_KEY_FILE: "/x.pem",
      JETMESH_JWT_JWKS_URL: "https://auth.example.com/jwks.json",
    }),
    /only one of/,
  );
});

t.test("a public key file: read, and must be a PEM public key", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "jm-auth-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pem = join(dir, "public.pem");
  writeFileSync(pem, "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
  t.match(read({ JETMESH_JWT_PUBLIC_KEY_FILE: pem }), {
    mode: "jwt",
    keys: { kind: "public-key", file: pem, pem: /BEGIN PUBLIC KEY/ },
  });
  t.match(
    problem(t, { JETMESH_JWT_PUBLIC_KEY_FILE: join(dir, "missing.pem") }),
    /JETMESH_JWT_PUBLIC_KEY_FILE.*readable PEM/,
  );
  const priv = join(dir, "private.pem");
  writeFileSync(priv, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
  t.match(
    problem(t, { JETMESH_JWT_PUBLIC_KEY_FILE: priv }),
    /JETMESH_JWT_PUBLIC_KEY_FILE.*SPKI/,
    "a private key is refused",
  );
});

t.test("JWKS: an http(s) URL and a cache age", async (t) => {
  t.match(read({ JETMESH_JWT_JWKS_URL: "https://auth.example.com/jwks.json" }), {
    keys: { kind: "jwks", cacheMaxAgeMs: 600_000 },
  });
  t.match(read({ JETMESH_JWT_JWKS_URL: "http://auth:8080/jwks", JETMESH_JWT_JWKS_CACHE: "1h" }), {
    keys: { cacheMaxAgeMs: 3_600_000 },
  });
  t.match(problem(t, { JETMESH_JWT_JWKS_URL: "file:///etc/jwks.json" }), /JETMESH_JWT_JWKS_URL/);
});

t.test("clock skew, audience, issuer", async (t) => {
  t.match(read({ JETMESH_JWT_SECRET: SECRET, JETMESH_JWT_CLOCK_SKEW: "0s" }), { clockSkewSec: 0 });
  t.match(read({ JETMESH_JWT_SECRET: SECRET, JETMESH_JWT_CLOCK_SKEW: "5m" }), {
    clockSkewSec: 300,
  });
  t.match(
    problem(t, { JETMESH_JWT_SECRET: SECRET, JETMESH_JWT_CLOCK_SKEW: "301s" }),
    /JETMESH_JWT_CLOCK_SKEW.*at most 300s/,
  );
  t.match(
    read({
      JETMESH_JWT_SECRET: SECRET,
      JETMESH_JWT_AUDIENCE: "jetmesh",
      JETMESH_JWT_ISSUER: "https://auth",
    }),
    {
      audience: "jetmesh",
      issuer: "https://auth",
    },
  );
});
