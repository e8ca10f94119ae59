import t, { type Test } from "tap";
import { createServer } from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CryptoKey, exportJWK, exportSPKI, generateKeyPair, type JWK, SignJWT } from "jose";
import { errorCode, errorMessage } from "../errors/mod.ts";
import { jwtAuth, mintToken } from "../../devkit/tokens.ts";
import type { AuthConfig, KeySource } from "./config.ts";
import { createVerifier, type Verifier } from "./verify.ts";

type JwtConfig = Extract<AuthConfig, { mode: "jwt" }>;

const now = () => Math.floor(Date.now() / 1000);
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

const SKEW_SEC = 30;

function config(keys: KeySource, extra: Partial<JwtConfig> = {}): JwtConfig {
  return { mode: "jwt", keys, clockSkewSec: SKEW_SEC, ...extra };
}

function secretVerifier(secret: string, extra: Partial<JwtConfig> = {}): Promise<Verifier> {
  return createVerifier(
    config({ kind: "secret", secret: new TextEncoder().encode(secret) }, extra),
  );
}

/** An HS256 token with exactly these claims (no defaults added). */
function sign(secret: string, claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).sign(
    new TextEncoder().encode(secret),
  );
}

/** Resolves to the refusal's message, failing the test when the token is accepted. */
async function refused(
  t: Test,
  v: Verifier,
  token: string,
  message: RegExp,
  what: string,
): Promise<void> {
  try {
    const id = await v.verify(token);
    t.fail(`${what}: accepted as ${id.sub}`);
  } catch (err) {
    t.equal(errorCode(err), "unauthorized", `${what}: unauthorized`);
    t.match(errorMessage(err), message, `${what}: ${errorMessage(err)}`);
  }
}

t.test("HS256: a valid token gives its sub, expiry, grants and claims", async (t) => {
  const { secret } = jwtAuth();
  const v = await secretVerifier(secret);
  const token = await mintToken(secret, "alice", {
    publish: ["chat.>"],
    subscribe: ["chat.>", "user.alice.>"],
    claims: { role: "ops" },
  });
  const id = await v.verify(token);
  t.equal(id.sub, "alice");
  t.same(id.publish, ["chat.>"]);
  t.same(id.subscribe, ["chat.>", "user.alice.>"]);
  t.equal(id.claims.role, "ops");
  // The connection lasts as long as the verifier would still accept the token: exp plus the
  // tolerated skew.
  t.ok(
    Math.abs(id.expiresAt - (now() + 3600 + SKEW_SEC) * 1000) <= 1000,
    "expiresAt is exp plus the clock skew, in ms",
  );
  t.same(
    (await v.verify(await mintToken(secret, "bob"))).publish,
    [],
    "no jetmesh claim: no grants",
  );
});

t.test("alg none, a wrong signature and a token of another secret are refused", async (t) => {
  const { secret } = jwtAuth();
  const v = await secretVerifier(secret);
  const claims = { sub: "alice", exp: now() + 3600, jetmesh: { publish: [">"] } };
  await refused(
    t,
    v,
    `${b64({ alg: "none", typ: "JWT" })}.${b64(claims)}.`,
    /algorithm|invalid/,
    "alg none",
  );
  const good = await sign(secret, claims);
  const [h, , s] = good.split(".");
  await refused(
    t,
    v,
    `${h}.${b64({ ...claims, sub: "mallory" })}.${s}`,
    /signature/,
    "payload changed after signing",
  );
  await refused(t, v, await sign(jwtAuth().secret, claims), /signature/, "another secret");
  await refused(t, v, "not-a-jwt", /invalid/, "garbage");
});

t.test("exp: required, past refused, within the clock skew accepted", async (t) => {
  const { secret } = jwtAuth();
  const v = await secretVerifier(secret, { clockSkewSec: 30 });
  await refused(t, v, await sign(secret, { sub: "alice" }), /exp/, "no exp");
  await refused(
    t,
    v,
    await sign(secret, { sub: "alice", exp: now() - 60 }),
    /expired/,
    "expired a minute ago",
  );
  t.equal(
    (await v.verify(await sign(secret, { sub: "alice", exp: now() - 10 }))).sub,
    "alice",
    "expired 10s ago, skew 30s",
  );
  const strict = await secretVerifier(secret, { clockSkewSec: 0 });
  await refused(
    t,
    strict,
    await sign(secret, { sub: "alice", exp: now() - 10 }),
    /expired/,
    "expired 10s ago, skew 0",
  );
});

t.test("nbf: in the future refused, within the clock skew accepted", async (t) => {
  const { secret } = jwtAuth();
  const v = await secretVerifier(secret, { clockSkewSec: 30 });
  await refused(
    t,
    v,
    await sign(secret, { sub: "alice", exp: now() + 3600, nbf: now() + 120 }),
    /nbf/,
    "nbf in 2 minutes",
  );
  t.equal(
    (await v.verify(await sign(secret, { sub: "alice", exp: now() + 3600, nbf: now() + 10 }))).sub,
    "alice",
    "nbf in 10s, skew 30s",
  );
});

t.test("aud and iss: checked when configured, ignored otherwise", async (t) => {
  const { secret } = jwtAuth();
  const v = await secretVerifier(secret, {
    audience: "jetmesh",
    issuer: "https://auth.example.com",
  });
  const base = { sub: "alice", exp: now() + 3600 };
  t.equal(
    (await v.verify(
      await sign(secret, { ...base, aud: "jetmesh", iss: "https://auth.example.com" }),
    )).sub,
    "alice",
  );
  await refused(
    t,
    v,
    await sign(secret, { ...base, aud: "other", iss: "https://auth.example.com" }),
    /aud/,
    "another audience",
  );
  await refused(
    t,
    v,
    await sign(secret, { ...base, iss: "https://auth.example.com" }),
    /aud/,
    "no audience",
  );
  await refused(
    t,
    v,
    await sign(secret, { ...base, aud: "jetmesh", iss: "https://evil.example.com" }),
    /iss/,
    "another issuer",
  );
  await refused(t, v, await sign(secret, { ...base, aud: "jetmesh" }), /iss/, "no issuer");
  const open = await secretVerifier(secret);
  t.equal(
    (await open.verify(await sign(secret, { ...base, aud: "other", iss: "anyone" }))).sub,
    "alice",
    "not configured: not checked",
  );
});

t.test("sub and grants: a bad sub, a malformed jetmesh claim, an over-long token are refused", async (t) => {
  const { secret } = jwtAuth();
  const v = await secretVerifier(secret);
  const exp = now() + 3600;
  await refused(t, v, await sign(secret, { sub: "a b", exp }), /sub/, "sub with a space");
  // A sub is put into {sub} channel patterns: a wildcard or a dot would widen user.{sub}.> to
  // others' spaces.
  await refused(t, v, await sign(secret, { sub: "*", exp }), /sub/, "sub *");
  await refused(t, v, await sign(secret, { sub: "bob.x", exp }), /sub/, "sub with a dot");
  await refused(
    t,
    v,
    await sign(secret, { sub: "x".repeat(65), exp }),
    /sub/,
    "sub of 65 characters",
  );
  await refused(t, v, await sign(secret, { sub: 42, exp }), /sub/, "numeric sub");
  await refused(t, v, await sign(secret, { exp }), /sub/, "no sub");
  await refused(
    t,
    v,
    await sign(secret, { sub: "alice", exp, jetmesh: { publish: "chat.>" } }),
    /jetmesh\.publish/,
    "publish not a list",
  );
  await refused(
    t,
    v,
    await sign(secret, { sub: "alice", exp, jetmesh: { publish: ["chat..x"] } }),
    /jetmesh\.publish/,
    "bad pattern",
  );
  await refused(
    t,
    v,
    await sign(secret, { sub: "alice", exp, jetmesh: { subscribe: ["a.>.b"] } }),
    /jetmesh\.subscribe/,
    "'>' not last",
  );
  await refused(
    t,
    v,
    await sign(secret, { sub: "alice", exp, jetmesh: { publish: Array(65).fill("chat.x") } }),
    /at most 64/,
    "65 grants",
  );
  await refused(
    t,
    v,
    await sign(secret, { sub: "alice", exp, jetmesh: ["chat.>"] }),
    /must be an object/,
    "jetmesh a list",
  );
  await refused(
    t,
    v,
    await sign(secret, { sub: "alice", exp, pad: "x".repeat(9000) }),
    /longer than 8192/,
    "over-long token",
  );
});

/** Writes a PEM (SPKI) public key to a temp file, as an operator would mount it. */
function pemFile(t: Test, pem: string): string {
  const dir = mkdtempSync(join(tmpdir(), "jm-jwt-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "public.pem");
  writeFileSync(file, pem);
  return file;
}

for (const alg of ["RS256", "ES256", "EdDSA"] as const) {
  t.test(`${alg}: a PEM public key file verifies its private key's tokens only`, async (t) => {
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
    const pem = await exportSPKI(publicKey);
    const v = await createVerifier(config({ kind: "public-key", file: pemFile(t, pem), pem }));
    const token = (key: CryptoKey) =>
      new SignJWT({ jetmesh: { subscribe: ["chat.>"] } }).setProtectedHeader({ alg }).setSubject(
        "alice",
      ).setExpirationTime("1h").sign(key);
    const id = await v.verify(await token(privateKey));
    t.same([id.sub, id.subscribe], ["alice", ["chat.>"]]);
    const other = await generateKeyPair(alg);
    await refused(t, v, await token(other.privateKey), /signature/, "another key pair");
  });
}

t.test("algorithm confusion: an HS256 token keyed with the public key is refused by a public-key verifier", async (t) => {
  const { publicKey, privateKey } = await generateKeyPair("RS256", { extractable: true });
  const pem = await exportSPKI(publicKey);
  const v = await createVerifier(config({ kind: "public-key", file: pemFile(t, pem), pem }));
  // The classic attack: the public key's text, which anyone may have, used as an HMAC secret.
  await refused(
    t,
    v,
    await sign(pem, { sub: "mallory", exp: now() + 3600 }),
    /algorithm/,
    "HS256 with the PEM as secret",
  );
  await refused(
    t,
    v,
    `${b64({ alg: "none" })}.${b64({ sub: "mallory", exp: now() + 3600 })}.`,
    /algorithm|invalid/,
    "alg none",
  );
  const ok = await new SignJWT({}).setProtectedHeader({ alg: "RS256" }).setSubject("alice")
    .setExpirationTime("1h").sign(privateKey);
  t.equal((await v.verify(ok)).sub, "alice", "the RS256 token of the same key passes");
});

t.test("a secret verifier refuses asymmetric tokens", async (t) => {
  const { secret } = jwtAuth();
  const v = await secretVerifier(secret);
  const { privateKey } = await generateKeyPair("ES256");
  const token = await new SignJWT({}).setProtectedHeader({ alg: "ES256" }).setSubject("alice")
    .setExpirationTime("1h").sign(privateKey);
  await refused(t, v, token, /algorithm/, "ES256 token");
});

t.test("a PEM that is no supported public key fails with bad_config", async (t) => {
  const pem = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
  await t.rejects(createVerifier(config({ kind: "public-key", file: "x.pem", pem })), {
    code: "bad_config",
    message: /x\.pem/,
  });
});

t.test("JWKS from an HTTP server: kid selects the key, a rotated key verifies once the set changes", async (t) => {
  const first = await generateKeyPair("ES256", { extractable: true });
  const second = await generateKeyPair("RS256", { extractable: true });
  const jwk = async (key: CryptoKey, kid: string, alg: string): Promise<JWK> => ({
    ...(await exportJWK(key)),
    kid,
    alg,
    use: "sig",
  });
  let keys = [await jwk(first.publicKey, "k1", "ES256")];
  let fetches = 0;
  const server = createServer((_req, res) => {
    fetches++;
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as { port: number };
  const v = await createVerifier(
    config({ kind: "jwks", url: `http://127.0.0.1:${port}/jwks.json`, cacheMaxAgeMs: 600_000 }),
  );
  const token = (key: CryptoKey, kid: string, alg: string) =>
    new SignJWT({}).setProtectedHeader({ alg, kid }).setSubject("alice").setExpirationTime("1h")
      .sign(key);

  t.equal(
    (await v.verify(await token(first.privateKey, "k1", "ES256"))).sub,
    "alice",
    "k1 verifies",
  );
  const rotated = await token(second.privateKey, "k2", "RS256");
  await refused(t, v, rotated, /kid/, "k2 before the server publishes it");
  keys = [await jwk(second.publicKey, "k2", "RS256"), ...keys];
  // jose refetches on an unknown kid at most once per 30 s cooldown; wait it out rather than
  // fake a clock.
  const before = fetches;
  await refused(t, v, rotated, /kid/, "k2 within the cooldown (no refetch yet)");
  t.equal(fetches, before, "the cooldown spares the server");
  t.pass("waiting out the 30 s refetch cooldown");
  await new Promise((r) => setTimeout(r, 30_500));
  t.equal((await v.verify(rotated)).sub, "alice", "k2 verifies after the set changed");
  t.equal(
    (await v.verify(await token(first.privateKey, "k1", "ES256"))).sub,
    "alice",
    "k1 still verifies",
  );
  await refused(
    t,
    v,
    await token(second.privateKey, "k1", "RS256"),
    /signature|kid|key/,
    "k2's private key under k1's kid",
  );
});
