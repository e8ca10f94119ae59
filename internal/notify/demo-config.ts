import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { AuthConfig } from "../auth/mod.ts";
import type { EnvReader } from "../config/mod.ts";

export interface DevTokens {
  /** The HS256 secret the services verify with: a dev token is as good as any other. */
  secret: Uint8Array;
  ttlSec: number;
  audience?: string;
  issuer?: string;
}

/** What the chat page at `/` needs to know that it must not take from its own URL. */
export interface DemoConfig {
  /**
   * Ingest's WebSocket URL for the page; unset: port `ingestPort` of the host the page was
   * loaded from.
   */
  ingestUrl?: string;
  ingestPort: number;
  /**
   * The prebuilt page (`make page`: index.html, chat.css, chat.js); unset: the page is not
   * served and `/` answers 404.
   */
  pageDir?: string;
  /**
   * Set by JETMESH_DEV_TOKENS=1: `GET /dev/token?name=` signs a token for any name
   * (development only).
   */
  devTokens?: DevTokens;
}

/**
 * A WebSocket URL with nothing a header or an HTML attribute could be broken
 * out of: it goes verbatim into the page and its Content-Security-Policy.
 */
export const SAFE_WS_URL = /^wss?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?(\/[A-Za-z0-9._~/-]*)?$/;

/** Where `make page` (and the container image) put the built page: .build/chat in the checkout. */
const BUILT_PAGE = fileURLToPath(new URL("../../.build/chat", import.meta.url));

export function readDemoConfig(r: EnvReader, auth: AuthConfig): DemoConfig {
  const dir = r.optional("NOTIFY_PAGE_DIR") ?? BUILT_PAGE;
  const pageDir = dir === "none" ? undefined : resolve(dir);
  const ingestUrl = r.optional("NOTIFY_DEMO_INGEST_URL");
  r.check(
    "NOTIFY_DEMO_INGEST_URL",
    ingestUrl === undefined || SAFE_WS_URL.test(ingestUrl),
    "a ws:// or wss:// URL such as ws://localhost:8080/v1/ws",
  );
  // Where ingest listens when it runs beside notify (run-local, the test stacks).
  const ingestPort = r.int("INGEST_PORT", 8080, 0, 65535);
  const on = r.oneOf("JETMESH_DEV_TOKENS", "0", ["0", "1"] as const) === "1";
  if (!on) return { ingestUrl, ingestPort, pageDir };
  const ttlSec = Math.round(r.durationMs("JETMESH_DEV_TOKENS_TTL", "10m", 5000) / 1000);
  if (auth.mode === "jwt" && auth.keys.kind === "secret") {
    return {
      ingestUrl,
      ingestPort,
      pageDir,
      devTokens: { secret: auth.keys.secret, ttlSec, audience: auth.audience, issuer: auth.issuer },
    };
  }
  r.check(
    "JETMESH_DEV_TOKENS",
    false,
    "0 unless JETMESH_JWT_SECRET is set: dev tokens are signed with that HS256 secret",
  );
  return { ingestUrl, ingestPort, pageDir };
}
