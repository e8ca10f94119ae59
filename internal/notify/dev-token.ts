import { SignJWT } from "jose";
import { isPublisher } from "../../subjects/mod.ts";
import { GRANTS_CLAIM } from "../auth/mod.ts";
import { errorResponse, jsonResponse } from "../httpapi/mod.ts";
import { JetmeshError } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { HttpHandler } from "../wsserver/mod.ts";
import type { DevTokens } from "./demo-config.ts";

export const DEV_TOKEN_PATH = "/dev/token";
/**
 * Host names that can only mean this machine; a rebound DNS name (a foreign site's page reaching
 * loopback) is none of them.
 */
const LOOPBACK_HOST = /^(localhost|127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\])(:\d{1,5})?$/;

/** What a dev token grants: the chat, and the caller's personal space. */
function devGrants(name: string): { publish: string[]; subscribe: string[] } {
  const own = `user.${name}.>`;
  return { publish: ["chat.>", own], subscribe: ["chat.>", own] };
}

/** A development token for `name` (a valid sub), signed as the services verify it. */
export async function signDevToken(
  o: DevTokens,
  name: string,
): Promise<{ token: string; sub: string; expiresAt: number }> {
  const now = Math.floor(Date.now() / 1000);
  let jwt = new SignJWT({ [GRANTS_CLAIM]: devGrants(name) })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(name)
    .setIssuedAt(now)
    .setExpirationTime(now + o.ttlSec);
  if (o.audience !== undefined) jwt = jwt.setAudience(o.audience);
  if (o.issuer !== undefined) jwt = jwt.setIssuer(o.issuer);
  return { token: await jwt.sign(o.secret), sub: name, expiresAt: (now + o.ttlSec) * 1000 };
}

/**
 * `GET /dev/token?name=alice`: a token for whatever name is asked, so the chat
 * page and a developer's curl have one without an identity provider. Anyone
 * who reaches the port is anyone they like: only `make run-local` turns it on,
 * and only requests addressed to a loopback host are answered, so a web page
 * whose DNS name was rebound to 127.0.0.1 cannot read one.
 */
export function devTokenRoute(o: DevTokens, log: Logger): HttpHandler {
  log.warn(
    `JETMESH_DEV_TOKENS=1: GET ${DEV_TOKEN_PATH}?name=NAME signs a token for ANY name to ANYONE who reaches this port. ` +
      "Development only: never set it where others can connect.",
    { dev_tokens: true },
  );
  return async (req) => {
    if (!LOOPBACK_HOST.test(req.header("host") ?? "")) {
      return errorResponse(
        new JetmeshError(
          "forbidden",
          `${DEV_TOKEN_PATH} answers only requests to localhost, 127.0.0.1 or [::1]`,
        ),
      );
    }
    const name = req.query.get("name") ?? "";
    if (!isPublisher(name)) {
      return errorResponse(new JetmeshError("bad_request", "name must match [A-Za-z0-9_-]{1,64}"));
    }
    const res = jsonResponse(200, await signDevToken(o, name));
    return {
      ...res,
      headers: { ...res.headers, "cache-control": "no-store", "x-content-type-options": "nosniff" },
    };
  };
}
