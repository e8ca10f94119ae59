/**
 * The smoke check's side of the edges' security: where its token comes from,
 * and that what has no token, or comes from a foreign web page, is refused.
 */
import WebSocket from "ws";

/** SMOKE_TOKEN, or one for `name` from notify's development endpoint (run-local turns it on). */
export async function smokeToken(
  notify: string,
  name: string,
  given: string | undefined,
): Promise<string> {
  if (given) return given;
  const res = await fetch(`${notify}/dev/token?name=${encodeURIComponent(name)}`, {
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json().catch(() => ({}))) as { token?: unknown; message?: unknown };
  if (res.status !== 200 || typeof body.token !== "string") {
    throw new Error(
      `no token: GET ${notify}/dev/token answered ${res.status} ${
        String(body.message ?? "")
      } (set SMOKE_TOKEN, or JETMESH_DEV_TOKENS=1 on notify)`,
    );
  }
  return body.token;
}

const ws = (url: string) => url.replace(/^http/, "ws") + "/v1/ws";

/** What a WebSocket upgrade came to: open, or the HTTP status it was refused with. */
function upgrade(
  url: string,
  origin?: string,
): Promise<{ socket?: WebSocket; status?: number; error?: string }> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, origin === undefined ? {} : { origin });
    socket.once("open", () => resolve({ socket }));
    socket.once("unexpected-response", (_req, res) => {
      resolve({ status: res.statusCode });
      res.resume();
      socket.terminate();
    });
    socket.once("error", (err) => resolve({ error: err.message }));
  });
}

/**
 * A subscribe without a token is answered `unauthorized` (the upgrade may already refuse it:
 * 401).
 */
export async function checkAnonymousSubscribe(notify: string, channel: string): Promise<string> {
  const r = await upgrade(ws(notify));
  if (r.status === 401) return "upgrade refused 401";
  if (!r.socket) throw new Error(`anonymous WebSocket to notify: ${r.error ?? r.status}`);
  const socket = r.socket;
  try {
    const answer = await new Promise<{ op?: string; code?: string }>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error("anonymous subscribe: no answer in 10 s")),
        10_000,
      );
      socket.once("message", (data) => {
        clearTimeout(timer);
        resolve(JSON.parse(String(data)));
      });
      socket.send(JSON.stringify({ op: "sub", channel, after: "0-0" }));
    });
    if (answer.op !== "error" || answer.code !== "unauthorized") {
      throw new Error(`anonymous subscribe to ${channel} was answered ${JSON.stringify(answer)}`);
    }
    return `sub answered ${answer.code}`;
  } finally {
    socket.close();
  }
}

/**
 * Ingest lets the chat page (notify's origin) open a WebSocket, and refuses another site's page
 * with 403.
 */
export async function checkOrigins(ingest: string, notify: string, token: string): Promise<string> {
  const url = `${ws(ingest)}?token=${encodeURIComponent(token)}`;
  const page = new URL(notify).origin;
  const ok = await upgrade(url, page);
  ok.socket?.close();
  if (!ok.socket) {
    throw new Error(
      `ingest refused a WebSocket from the chat page's origin ${page}: ${ok.error ?? ok.status}`,
    );
  }
  const foreign = await upgrade(url, "http://evil.example");
  foreign.socket?.close();
  if (foreign.status !== 403) {
    throw new Error(
      `ingest let a page of http://evil.example open a WebSocket (${
        foreign.socket ? "open" : foreign.error ?? foreign.status
      })`,
    );
  }
  return `${page} accepted, http://evil.example refused 403`;
}
