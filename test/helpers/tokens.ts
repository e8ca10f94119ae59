import { randomBytes } from "node:crypto";
import { SignJWT } from "jose";

/** A fresh HS256 secret and the variables that turn JWT auth on with it. */
export function jwtAuth(): { secret: string; env: Record<string, string> } {
  const secret = randomBytes(32).toString("base64url");
  return { secret, env: { JETMESH_AUTH: "jwt", JETMESH_JWT_SECRET: secret } };
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
export async function mintToken(secret: string, sub: string, o: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const grants = o.publish === undefined && o.subscribe === undefined ? {} : { jetmesh: { publish: o.publish ?? [], subscribe: o.subscribe ?? [] } };
  return await new SignJWT({ ...grants, ...o.claims })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(sub)
    .setIssuedAt(now)
    .setExpirationTime(now + (o.expiresIn ?? 3600))
    .sign(new TextEncoder().encode(secret));
}
