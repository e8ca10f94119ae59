import { type AuthConfig, readAuthConfig } from "../auth/mod.ts";
import type { EnvReader } from "../config/env.ts";
import { type NamespacesConfig, readNamespaces } from "../namespaces/mod.ts";

/** What both client-facing services (ingest, notify) read to decide who may connect and do what. */
export interface EdgeConfig {
  auth: AuthConfig;
  namespaces: NamespacesConfig;
  /**
   * Origins allowed to open a WebSocket (`https://app.example.com`); `*` allows
   * any. Empty: only the service's own origin (the Host header). Clients that
   * send no Origin (servers, native apps) are always allowed: Origin protects
   * browsers' users from other sites, not the service from non-browsers.
   */
  allowedOrigins: string[];
  /**
   * Header a trusted reverse proxy sets to the client's address (for example
   * `x-forwarded-for`, of which the last entry is used). Unset: the socket's
   * peer address, since a client can write any header it likes.
   */
  clientAddressHeader?: string;
}

export function readEdgeConfig(r: EnvReader): EdgeConfig {
  // Browsers send the origin's scheme and host in lower case.
  const allowedOrigins = r.list("JETMESH_ALLOWED_ORIGINS", []).map((o) => o.toLowerCase());
  r.check(
    "JETMESH_ALLOWED_ORIGINS",
    allowedOrigins.every((o) => o === "*" || /^https?:\/\/[^/\s]+$/.test(o)),
    "comma-separated origins such as https://app.example.com (scheme and host, no path), or *",
  );
  const header = r.optional("JETMESH_CLIENT_ADDRESS_HEADER")?.toLowerCase();
  r.check(
    "JETMESH_CLIENT_ADDRESS_HEADER",
    header === undefined || /^[a-z0-9-]+$/.test(header),
    "a header name such as x-forwarded-for",
  );
  return {
    auth: readAuthConfig(r),
    namespaces: readNamespaces(r),
    allowedOrigins,
    clientAddressHeader: header,
  };
}
