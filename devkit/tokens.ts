import { randomBytes } from "node:crypto";
import { SignJWT } from "jose";

/** A fresh HS256 secret and the variables that turn JWT auth on with it. */
export function jwtAuth(): { secret: string; env: Record<string, string> } {
  const secret = randomBytes(32).toString("base64url");
  // No clock skew: client and services share this machine's clock, and a test of expiry then
  // need not wait the skew out.
  return {
    secret,
    env: { JETMESH_AUTH: "jwt", JETMESH_JWT_SECRET: secret, JETMESH_JWT_CLOCK_SKEW: "0s" },
  };
}

export interface TokenOptions {
  publish?: string[];
  subscribe?: string[];
  /** Seconds from now; negative for an expired token. Default one hour. */
  expiresIn?: number;
  /** Extra claims, e.g. a role for namespace rules. */
  claims?: Record<string, unknown>;
}

/** An HS256 token for `sub`, as an application's auth server would issue. */
export async function mintToken(
  secret: string,
  sub: string,
  o: TokenOptions = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const grants = o.publish === undefined && o.subscribe === undefined
    ? {}
    : { jetmesh: { publish: o.publish ?? [], subscribe: o.subscribe ?? [] } };
  return await new SignJWT({ ...grants, ...o.claims })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(sub)
    .setIssuedAt(now)
    .setExpirationTime(now + (o.expiresIn ?? 3600))
    .sign(new TextEncoder().encode(secret));
}
