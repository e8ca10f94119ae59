/**
 * The server on Deno.serve. tsc has no Deno types and `declare const Deno`
 * would clash with Deno's own global, so the few Deno APIs used here are
 * described by DenoLike and reached through globalThis.
 */
import { errorMessage, JetmeshError } from "../errors/mod.ts";
import {
  checkOptions,
  concat,
  errorResponse,
  notFound,
  reportInternal,
  tooLarge,
} from "./common.ts";
import type {
  HttpHandler,
  HttpRequest,
  HttpResponse,
  RunningServer,
  SendResult,
  ServerOptions,
  UpgradeRequest,
  WsConnection,
  WsHandlers,
} from "./types.ts";

interface DenoLike {
  serve(
    options: { hostname: string; port: number; onListen(): void },
    handler: (
      req: Request,
      info: { remoteAddr: { hostname: string } },
    ) => Response | Promise<Response>,
  ): { addr: { port: number }; shutdown(): Promise<void> };
  upgradeWebSocket(
    req: Request,
    options: { idleTimeout: number },
  ): { socket: WebSocket; response: Response };
}

/**
 * Deno has no drain event; bufferedAmount is polled this often, only while a socket is over the
 * limit.
 */
const DRAIN_POLL_MS = 10;
/**
 * How long close() waits for clients to answer the closing handshake. Deno
 * waits forever for an unresponsive peer; shutdown() then drops what is left.
 */
const CLOSE_GRACE_MS = 1000;

const encoder = new TextEncoder();

export async function start<T>(o: ServerOptions<T>): Promise<RunningServer> {
  const deno = (globalThis as unknown as { Deno?: DenoLike }).Deno;
  if (!deno) throw new Error("internal/wsserver/deno.ts needs the Deno runtime");
  checkOptions(o);
  const conns = new Set<DenoConnection<T>>();
  const ws = o.ws;
  let accepting = true;

  const server = deno.serve(
    { hostname: o.host, port: o.port, onListen: () => {} },
    async (req, info) => {
      if (!accepting) return toResponse(notAccepting());
      const url = new URL(req.url);
      const head: UpgradeRequest = {
        path: url.pathname,
        query: url.searchParams,
        header: (name) => req.headers.get(name) ?? undefined,
        remoteAddress: info.remoteAddr.hostname,
      };
      if (ws && head.path === ws.path && isHandshake(head)) {
        return upgrade(
          deno,
          o,
          ws,
          conns,
          req,
          head,
        );
      }
      const route = `${req.method} ${head.path}`;
      const handler = o.routes[route];
      if (handler === undefined) return toResponse(notFound(req.method, head.path));
      const body = await readBody(req, o.maxBodyBytes);
      if (body === undefined) return toResponse(tooLarge(o.maxBodyBytes));
      return toResponse(await answer(o, route, handler, { ...head, method: req.method, body }));
    },
  );

  let stopped: Promise<void> | undefined;
  return {
    port: server.addr.port,
    // Deno cannot stop listening without closing upgraded WebSockets (shutdown()
    // sends them 1001), so the port stays bound and new requests get a 503 until close().
    stopListening: () => {
      accepting = false;
    },
    close: async (code = 1001, reason = "server closing") => {
      accepting = false;
      const open = [...conns];
      for (const conn of open) conn.close(code, reason);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)));
      await Promise.race([Promise.all(open.map((conn) => conn.done)), grace]);
      clearTimeout(timer);
      stopped ??= server.shutdown();
      // A client that left while an async `upgrade` awaited leaves a connection shutdown()
      // waits on for good.
      const stuck = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)));
      await Promise.race([stopped, stuck]);
      clearTimeout(timer);
    },
  };
}

async function upgrade<T>(
  deno: DenoLike,
  o: ServerOptions<T>,
  ws: WsHandlers<T>,
  conns: Set<DenoConnection<T>>,
  req: Request,
  head: UpgradeRequest,
): Promise<Response> {
  let data: T;
  try {
    data = await ws.upgrade(head);
  } catch (err) {
    reportInternal(err, `upgrade ${head.path}`, o.onError);
    return toResponse(errorResponse(err));
  }
  let upgraded: ReturnType<DenoLike["upgradeWebSocket"]>;
  try {
    upgraded = deno.upgradeWebSocket(req, { idleTimeout: o.idleTimeoutSec });
  } catch (err) {
    // The rest of the handshake is malformed: the client's fault, not a 500.
    return toResponse(errorResponse(new JetmeshError("bad_request", errorMessage(err))));
  }
  const { socket, response } = upgraded;
  socket.binaryType = "arraybuffer";
  const onDrain = ws.drain?.bind(ws);
  let conn: DenoConnection<T> | undefined;
  socket.onopen = () => {
    conn = new DenoConnection(socket, data, head.remoteAddress, o.maxBackpressureBytes, onDrain);
    conns.add(conn);
    ws.open?.(conn);
  };
  socket.onmessage = (event: MessageEvent<string | ArrayBuffer>) => {
    if (!conn || conn.isClosed()) return;
    // Deno has no frame limit option; 1009 is what uWS sends for the same case.
    if (exceeds(event.data, o.maxFrameBytes)) return conn.close(1009, "message too big");
    if (typeof event.data === "string") ws.message(conn, event.data, false);
    else ws.message(conn, new Uint8Array(event.data), true);
  };
  socket.onclose = (event) => {
    if (!conn) return;
    conn.markClosed();
    conns.delete(conn);
    // Deno reports 0 for a connection lost without a close frame; 1006 is the standard code,
    // and what uWS says.
    ws.close(conn, event.code === 0 ? 1006 : event.code, event.reason);
  };
  return response;
}

/**
 * Like uWS, which routes only requests with a well-formed key to `upgrade`; others are plain
 * requests.
 */
function isHandshake(head: UpgradeRequest): boolean {
  return head.header("upgrade")?.toLowerCase() === "websocket" &&
    head.header("sec-websocket-key")?.length === 24;
}

async function answer<T>(
  o: ServerOptions<T>,
  route: string,
  handler: HttpHandler,
  request: HttpRequest,
): Promise<HttpResponse> {
  try {
    return await handler(request);
  } catch (err) {
    reportInternal(err, route, o.onError);
    return errorResponse(err);
  }
}

/** The body, or undefined when it is larger than `max`; reading stops as soon as it is. */
async function readBody(req: Request, max: number): Promise<Uint8Array | undefined> {
  if (Number(req.headers.get("content-length") ?? 0) > max) return undefined;
  if (req.body === null) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return concat(chunks, size);
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
}

function notAccepting(): HttpResponse {
  const r = errorResponse(new JetmeshError("unavailable", "server is shutting down"));
  return { ...r, headers: { ...r.headers, connection: "close" } };
}

function toResponse(r: HttpResponse): Response {
  const body = typeof r.body === "string" || r.body === undefined ? r.body : unshared(r.body);
  return new Response(body, { status: r.status, headers: r.headers });
}

/** Web APIs take no views on a SharedArrayBuffer, so copy in the unlikely case one comes in. */
function unshared(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : bytes.slice();
}

/** UTF-8 size check that only encodes when the UTF-16 length cannot decide it. */
function exceeds(data: string | ArrayBuffer, max: number): boolean {
  if (typeof data !== "string") return data.byteLength > max;
  if (data.length > max) return true;
  if (data.length * 3 <= max) return false;
  return encoder.encode(data).byteLength > max;
}

class DenoConnection<T> implements WsConnection<T> {
  readonly data: T;
  readonly remoteAddress: string;
  /** Settles on the close event, which Deno fires after the closing handshake. */
  readonly done: Promise<void>;
  readonly #socket: WebSocket;
  readonly #limit: number;
  readonly #onDrain: ((conn: WsConnection<T>) => void) | undefined;
  #closed = false;
  #poll: ReturnType<typeof setInterval> | undefined;
  #settle!: () => void;

  constructor(
    socket: WebSocket,
    data: T,
    remoteAddress: string,
    limit: number,
    onDrain: ((conn: WsConnection<T>) => void) | undefined,
  ) {
    this.#socket = socket;
    this.data = data;
    this.remoteAddress = remoteAddress;
    this.#limit = limit;
    this.#onDrain = onDrain;
    this.done = new Promise((resolve) => {
      this.#settle = resolve;
    });
  }

  send(message: string | Uint8Array): SendResult {
    return this.sendMany([message]);
  }

  sendMany(messages: ReadonlyArray<string | Uint8Array>): SendResult {
    if (this.isClosed()) return "closed";
    for (const m of messages) this.#socket.send(typeof m === "string" ? m : unshared(m));
    if (this.#socket.bufferedAmount <= this.#limit) return "sent";
    this.#watchDrain();
    return "buffered";
  }

  bufferedAmount(): number {
    return this.#socket.bufferedAmount;
  }

  isClosed(): boolean {
    // Past OPEN a send is silently discarded, so a closing socket counts as closed.
    return this.#closed || this.#socket.readyState !== WebSocket.OPEN;
  }

  close(code?: number, reason?: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopWatching();
    this.#socket.close(code, reason);
  }

  markClosed(): void {
    this.#closed = true;
    this.#stopWatching();
    this.#settle();
  }

  #watchDrain(): void {
    const onDrain = this.#onDrain;
    if (!onDrain || this.#poll !== undefined) return;
    this.#poll = setInterval(() => {
      if (this.#socket.bufferedAmount > this.#limit) return;
      this.#stopWatching();
      onDrain(this);
    }, DRAIN_POLL_MS);
  }

  #stopWatching(): void {
    clearInterval(this.#poll);
    this.#poll = undefined;
  }
}
