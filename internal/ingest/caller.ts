import { type Caller, isAuthenticated } from "../auth/mod.ts";
import type { Guard, RequestHead } from "../edge/mod.ts";
import { JetmeshError } from "../errors/mod.ts";
import { isPublisher } from "../../subjects/mod.ts";

/**
 * What a client calls itself (`?publisher=` or `X-Jetmesh-Publisher`): its name in event ids
 * with auth off, ignored with auth on.
 */
function selfName(req: RequestHead): string | undefined {
  const name = req.query.get("publisher") ?? req.header("x-jetmesh-publisher");
  if (name === undefined || name === null || name === "") return undefined;
  if (!isPublisher(name)) {
    throw new JetmeshError("bad_request", "publisher must match [A-Za-z0-9_-]{1,64}");
  }
  return name;
}

/**
 * Who publishes through a request or a WebSocket upgrade. Without a token the
 * caller is refused up front unless some namespace lets anonymous callers
 * publish. Over HTTP the token must come as `Authorization: Bearer`: request
 * URLs end up in proxy and access logs, so `?token=` is only for WebSocket
 * upgrades, where browsers cannot set headers.
 */
export async function publishingCaller(
  guard: Guard,
  req: RequestHead,
  via: "http" | "websocket",
): Promise<Caller> {
  if (via === "http" && guard.authOn && req.query.has("token")) {
    throw new JetmeshError(
      "unauthorized",
      "send the token as Authorization: Bearer; ?token= is accepted on WebSocket upgrades only",
    );
  }
  const caller = await guard.caller(req, selfName(req));
  if (!isAuthenticated(caller) && !guard.policy.admitsAnonymous("publish")) {
    const how = via === "http"
      ? "Authorization: Bearer <token>"
      : "Authorization: Bearer <token> or ?token=";
    throw new JetmeshError("unauthorized", `a token is required: ${how}`);
  }
  return caller;
}
