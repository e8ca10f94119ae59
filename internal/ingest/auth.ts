import { isPublisher } from "../../subjects/mod.ts";
import { JetmeshError } from "../errors/mod.ts";

export interface Credentials {
  /** `Authorization` header value. */
  authorization?: string;
  /** `?token=` — browsers cannot set headers on a WebSocket. */
  token?: string;
  /** `?publisher=` or `X-Jetmesh-Publisher`, honoured only in anonymous mode. */
  publisher?: string;
}

export const ANONYMOUS_PUBLISHER = "anon";

/**
 * Who publishes. With tokens configured, a valid token is required and names
 * the publisher, so event ids of two publishers never collide. Without tokens
 * (development), the client names itself.
 */
export function authenticate(tokens: Map<string, string>, c: Credentials): string {
  if (tokens.size === 0) {
    if (c.publisher === undefined || c.publisher === "") return ANONYMOUS_PUBLISHER;
    if (!isPublisher(c.publisher)) throw new JetmeshError("unauthorized", "publisher must match [A-Za-z0-9_-]{1,64}");
    return c.publisher;
  }
  const bearer = /^Bearer\s+(\S+)$/i.exec(c.authorization ?? "")?.[1];
  const token = bearer ?? c.token;
  const publisher = token === undefined ? undefined : tokens.get(token);
  if (publisher === undefined) throw new JetmeshError("unauthorized", "a valid token is required");
  return publisher;
}

/** Credentials from an HTTP request or a WebSocket upgrade, which look alike. */
export function credentialsOf(req: { header(name: string): string | undefined; query: URLSearchParams }): Credentials {
  return {
    authorization: req.header("authorization"),
    token: req.query.get("token") ?? undefined,
    publisher: req.query.get("publisher") ?? req.header("x-jetmesh-publisher"),
  };
}
