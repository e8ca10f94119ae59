/**
 * The server on uWebSockets.js (Node). uWS hands out request, response and
 * message objects that are only valid during its callback, so everything
 * below copies what it needs before returning or awaiting.
 */
import { STATUS_CODES } from "node:http";
import uWS from "uWebSockets.js";
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
} from "./types.ts";

const decoder = new TextDecoder();
const empty = new Uint8Array(0);
/**
 * Frames up to this many times maxFrameBytes are read whole so they can be refused with a proper
 * 1009.
 */
const FRAME_CEILING_FACTOR = 2;

/**
 * uWS's user data: uWS copies its properties onto the socket object, so it
 * cannot be the connection object itself. The connection exists from the
 * upgrade on, so the slot never changes shape.
 */
interface Slot<T> {
  conn: UwsConnection<T>;
}

/** Set on abort; an aborted uWS response must never be touched again. */
interface Liveness {
  aborted: boolean;
}

export async function start<T>(o: ServerOptions<T>): Promise<RunningServer> {
  // The package falls back to a pure-JS shim on runtimes it has no binary for,
  // and that shim never opens a connection: fail loudly instead.
  if (typeof uWS.getParts !== "function") {
    throw new Error(
      "uWebSockets.js native build did not load (binaries exist for Node 16/18/20 only)",
    );
  }
  checkOptions(o);
  const app = uWS.App();
  const conns = new Set<UwsConnection<T>>();
  const ws = o.ws;

  if (ws) {
    app.ws<Slot<T>>(ws.path, {
      compression: uWS.DISABLED,
      // This uWS build drops the TCP connection (1006) on frames above its limit
      // instead of sending 1009, so it only serves as a hard ceiling and the
      // promised 1009 is sent by `message` below.
      maxPayloadLength: o.maxFrameBytes * FRAME_CEILING_FACTOR,
      idleTimeout: o.idleTimeoutSec,
      // No uWS limit: above it uWS silently drops messages, and SendResult has no
      // "dropped but open" value. "buffered" is computed against the limit instead.
      maxBackpressure: 0,
      sendPingsAutomatically: true,
      upgrade: (res, req, context) => {
        const key = req.getHeader("sec-websocket-key");
        const protocol = req.getHeader("sec-websocket-protocol");
        const extensions = req.getHeader("sec-websocket-extensions");
        const head = readHead(req, res);
        const live: Liveness = { aborted: false };
        const refuse = (err: unknown) => {
          reportInternal(err, `upgrade ${head.path}`, o.onError);
          respond(res, live, errorResponse(err));
        };
        const accept = (data: T) => {
          if (live.aborted) return;
          res.cork(() =>
            res.upgrade<Slot<T>>(
              { conn: new UwsConnection(data, o.maxBackpressureBytes) },
              key,
              protocol,
              extensions,
              context,
            )
          );
        };
        let result: T | Promise<T>;
        try {
          result = ws.upgrade(head);
        } catch (err) {
          return refuse(err);
        }
        if (!(result instanceof Promise)) return accept(result);
        // uWS requires an abort handler before a response is finished after this callback returns.
        res.onAborted(() => {
          live.aborted = true;
        });
        result.then(accept, refuse);
      },
      open: (socket) => {
        const conn = socket.getUserData().conn;
        conn.attach(socket);
        conns.add(conn);
        ws.open?.(conn);
      },
      message: (socket, message, isBinary) => {
        const conn = socket.getUserData().conn;
        if (message.byteLength > o.maxFrameBytes) return conn.close(1009, "message too big");
        // uWS closes the connection on a text frame that is not UTF-8, so decoding cannot fail.
        ws.message(conn, isBinary ? copy(message) : decoder.decode(message), isBinary);
      },
      drain: (socket) => {
        const conn = socket.getUserData().conn;
        if (conn.drained()) ws.drain?.(conn);
      },
      close: (socket, code, reason) => {
        const conn = socket.getUserData().conn;
        conn.markClosed();
        conns.delete(conn);
        ws.close(conn, code, decoder.decode(reason));
      },
    });
  }

  app.any("/*", (res, req) => serveHttp(o, res, req));

  const listenSocket = await new Promise<uWS.us_listen_socket>((resolve, reject) => {
    app.listen(o.host, o.port, (socket) => {
      if (socket) resolve(socket);
      else reject(new Error(`cannot listen on ${o.host}:${o.port}`));
    });
  });
  let listening = true;
  let closed = false;
  // Closing native sockets twice is a use-after-free, hence the flags.
  const stopListening = () => {
    if (!listening) return;
    listening = false;
    uWS.us_listen_socket_close(listenSocket);
  };

  return {
    port: uWS.us_socket_local_port(listenSocket as uWS.us_socket),
    stopListening,
    close: async (code = 1001, reason = "server closing") => {
      if (closed) return;
      closed = true;
      stopListening();
      // end() runs the close handler synchronously, which removes from the set.
      for (const conn of [...conns]) conn.close(code, reason);
      // Idle keep-alive HTTP connections would hold the process up to uWS's 10 s
      // timeout. close() exists in the native build but not in the package typings.
      (app as uWS.TemplatedApp & { close(): void }).close();
    },
  };
}

function serveHttp<T>(o: ServerOptions<T>, res: uWS.HttpResponse, req: uWS.HttpRequest): void {
  const method = req.getMethod().toUpperCase();
  const head = readHead(req, res);
  const route = `${method} ${head.path}`;
  const handler = o.routes[route];
  const live: Liveness = { aborted: false };
  if (handler === undefined) return respond(res, live, notFound(method, head.path));
  // A declared length lets us refuse before reading anything.
  if (Number(head.header("content-length") ?? 0) > o.maxBodyBytes) {
    return respond(res, live, tooLarge(o.maxBodyBytes));
  }

  res.onAborted(() => {
    live.aborted = true;
  });
  const chunks: Uint8Array[] = [];
  let size = 0;
  let refused = false;
  res.onData((chunk, isLast) => {
    if (refused) return;
    size += chunk.byteLength;
    if (size > o.maxBodyBytes) {
      refused = true;
      // The rest of the body would still arrive; closing spares reading it.
      respond(res, live, tooLarge(o.maxBodyBytes), true);
      return;
    }
    if (chunk.byteLength > 0) chunks.push(copy(chunk));
    if (!isLast) return;
    const request: HttpRequest = { ...head, method, body: concat(chunks, size) };
    void answer(o, route, handler, request).then((response) => respond(res, live, response));
  });
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

/** Everything an HTTP or upgrade request exposes, copied out of the short-lived uWS req. */
function readHead(req: uWS.HttpRequest, res: uWS.HttpResponse): UpgradeRequest {
  const headers = new Map<string, string>();
  req.forEach((name, value) => {
    const seen = headers.get(name);
    headers.set(name, seen === undefined ? value : `${seen}, ${value}`);
  });
  return {
    path: req.getUrl(),
    query: new URLSearchParams(req.getQuery()),
    header: (name) => headers.get(name.toLowerCase()),
    remoteAddress: decoder.decode(res.getRemoteAddressAsText()),
  };
}

function respond(
  res: uWS.HttpResponse,
  live: Liveness,
  r: HttpResponse,
  closeConnection = false,
): void {
  if (live.aborted) return;
  // Responses are often written after an await, outside uWS's own cork.
  res.cork(() => {
    res.writeStatus(`${r.status} ${STATUS_CODES[r.status] ?? ""}`);
    for (const [name, value] of Object.entries(r.headers ?? {})) {
      // uWS always writes its own; a second one would corrupt the response.
      if (name.toLowerCase() !== "content-length") res.writeHeader(name, value);
    }
    res.end(r.body ?? empty, closeConnection);
  });
}

class UwsConnection<T> implements WsConnection<T> {
  readonly data: T;
  readonly #limit: number;
  #socket!: uWS.WebSocket<Slot<T>>;
  #closed = false;
  #overLimit = false;

  constructor(data: T, limit: number) {
    this.data = data;
    this.#limit = limit;
  }

  attach(socket: uWS.WebSocket<Slot<T>>): void {
    this.#socket = socket;
  }

  /**
   * Read from the socket when asked rather than kept: few callers want it, and every idle
   * connection would pay for the string.
   */
  get remoteAddress(): string {
    return this.#closed ? "" : decoder.decode(this.#socket.getRemoteAddressAsText());
  }

  send(message: string | Uint8Array): SendResult {
    // uWS throws on a closed socket; the contract says send is always safe.
    if (this.#closed) return "closed";
    // Sends mostly come from async code, outside uWS's cork: cork for one write.
    this.#socket.cork(() => this.#socket.send(message, typeof message !== "string"));
    return this.#afterSend();
  }

  sendMany(messages: ReadonlyArray<string | Uint8Array>): SendResult {
    if (this.#closed) return "closed";
    // One cork, so the frames leave in one write instead of one syscall each.
    this.#socket.cork(() => {
      for (const m of messages) this.#socket.send(m, typeof m !== "string");
    });
    return this.#afterSend();
  }

  #afterSend(): SendResult {
    if (this.#socket.getBufferedAmount() <= this.#limit) return "sent";
    this.#overLimit = true;
    return "buffered";
  }

  bufferedAmount(): number {
    return this.#closed ? 0 : this.#socket.getBufferedAmount();
  }

  isClosed(): boolean {
    return this.#closed;
  }

  close(code?: number, reason?: string): void {
    if (this.#closed) return;
    this.#socket.cork(() => this.#socket.end(code, reason));
  }

  markClosed(): void {
    this.#closed = true;
  }

  /**
   * uWS reports every partial drain; the app only wants to hear when the buffer is back under
   * the limit.
   */
  drained(): boolean {
    if (!this.#overLimit || this.#socket.getBufferedAmount() > this.#limit) return false;
    this.#overLimit = false;
    return true;
  }
}

/** uWS neuters its ArrayBuffers when the callback returns, so keep a copy. */
function copy(buffer: ArrayBuffer): Uint8Array {
  return new Uint8Array(buffer.slice(0));
}
