/**
 * Scenarios every server runtime must pass. They run under tap on Node
 * (uws.test.ts) and as a script under Deno (deno-smoke.ts), with the same `ws`
 * client, so both runtimes are held to exactly the same observable behaviour.
 */
import { connect } from "node:net";
import WebSocket from "ws";
import { JetmeshError } from "../../internal/errors/mod.ts";
import type {
  RunningServer,
  SendResult,
  ServerOptions,
  WsConnection,
} from "../../internal/wsserver/mod.ts";

export type Start = <T>(o: ServerOptions<T>) => Promise<RunningServer>;

/** The part of tap's `t` the scenarios use; the Deno script provides its own. */
export interface Check {
  equal(actual: unknown, expected: unknown, ...message: [] | [string]): unknown;
  strictSame(actual: unknown, expected: unknown, ...message: [] | [string]): unknown;
  ok(value: unknown, ...message: [] | [string]): unknown;
}

interface User {
  user: string;
}

interface Closed {
  code: number;
  reason: string;
  late: SendResult;
  isClosed: boolean;
  buffered: number;
}

/** What the server side saw, for assertions the client cannot make. */
interface Seen {
  closed: Closed[];
  errors: string[];
  afterServerClose: SendResult[];
  messages: number;
  /** Set by the test to let GET /slow answer. */
  release?: () => void;
}

function nothingSeen(): Seen {
  return { closed: [], errors: [], afterServerClose: [], messages: 0 };
}

const MAX_BODY = 1024;
const MAX_FRAME = 4096;
const BACKPRESSURE_LIMIT = 64 * 1024;
const FLOOD_CHUNK = new Uint8Array(256 * 1024);
/** Stops a broken backpressure report from flooding memory. */
const FLOOD_CAP = 400;

function options(seen: Seen): ServerOptions<User> {
  return {
    host: "127.0.0.1",
    port: 0,
    maxBodyBytes: MAX_BODY,
    maxFrameBytes: MAX_FRAME,
    idleTimeoutSec: 0,
    maxBackpressureBytes: BACKPRESSURE_LIMIT,
    onError: (_err, where) => seen.errors.push(where),
    routes: {
      "GET /hello": (req) => ({
        status: 200,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          method: req.method,
          name: req.query.get("name"),
          test: req.header("x-test") ?? null,
        }),
      }),
      "POST /echo": async (req) => ({
        status: 201,
        headers: { "x-length": String(req.body.byteLength) },
        body: req.body,
      }),
      "GET /slow": async () => {
        await new Promise<void>((resolve) => (seen.release = resolve));
        return { status: 200, body: "late" };
      },
      "GET /boom": () => {
        throw new Error("secret detail");
      },
      "GET /refuse": async () => {
        throw new JetmeshError("bad_request", "no good");
      },
    },
    ws: {
      path: "/ws",
      upgrade: (req) => {
        const token = req.query.get("token");
        if (token === "crash") throw new Error("upgrade bug");
        const user = { user: req.query.get("user") ?? "anon" };
        // Verifying a real token awaits; "later" stands for one that passes, "later-bad"
        // for one that does not.
        if (token?.startsWith("later")) {
          const wait = Number(req.query.get("wait") ?? 20);
          return new Promise((resolve, reject) =>
            setTimeout(
              () =>
                token === "later"
                  ? resolve(user)
                  : reject(new JetmeshError("unauthorized", "bad token, later")),
              wait,
            )
          );
        }
        if (token !== "ok") throw new JetmeshError("unauthorized", "bad token");
        return user;
      },
      message: (conn, payload, isBinary) => {
        seen.messages++;
        if (payload === "whoami") {
          conn.send(JSON.stringify({ user: conn.data.user, remote: conn.remoteAddress }));
        } else if (payload === "flood") flood(conn);
        else if (payload === "many") conn.sendMany(["one", new Uint8Array([2]), "three"]);
        else if (payload === "close-me") {
          conn.close(4000, "asked");
          seen.afterServerClose.push(conn.send("after"));
        } else if (payload === "close-plain") conn.close();
        else conn.send(isBinary || typeof payload !== "string" ? payload : `echo:${payload}`);
      },
      drain: (conn) => conn.send("drained"),
      close: (conn, code, reason) =>
        seen.closed.push({
          code,
          reason,
          late: conn.send("late"),
          isClosed: conn.isClosed(),
          buffered: conn.bufferedAmount(),
        }),
    },
  };
}

/** Sends until the server reports backpressure, then tells the client how many it sent. */
function flood(conn: WsConnection<User>): void {
  for (let sent = 1; sent <= FLOOD_CAP; sent++) {
    if (conn.send(FLOOD_CHUNK) === "buffered") {
      conn.send(`flooded:${sent}`);
      return;
    }
  }
  conn.send("never buffered");
}

interface Fixture {
  server: RunningServer;
  seen: Seen;
  http(path: string): string;
  ws(query?: string): string;
}

async function withServer(start: Start, run: (f: Fixture) => Promise<void>): Promise<void> {
  const seen = nothingSeen();
  const server = await start(options(seen));
  try {
    await run({
      server,
      seen,
      http: (path) => `http://127.0.0.1:${server.port}${path}`,
      ws: (query = "token=ok") => `ws://127.0.0.1:${server.port}/ws?${query}`,
    });
  } finally {
    await server.close();
  }
}

interface Message {
  text?: string;
  bytes?: Uint8Array;
}

/** A `ws` client that queues messages, so none is missed between awaits. */
class Client {
  readonly socket: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly #queue: Message[] = [];
  readonly #waiting: Array<(m: Message) => void> = [];

  constructor(url: string) {
    this.socket = new WebSocket(url);
    this.opened = new Promise((resolve, reject) => {
      this.socket.once("open", () => resolve());
      this.socket.once("error", reject);
    });
    this.closed = new Promise((resolve) => {
      this.socket.once("close", (code, reason) => resolve({ code, reason: reason.toString() }));
    });
    this.socket.on("message", (data, isBinary) => {
      const buf = data as Buffer;
      const m: Message = isBinary ? { bytes: new Uint8Array(buf) } : { text: buf.toString() };
      const waiter = this.#waiting.shift();
      if (waiter) waiter(m);
      else this.#queue.push(m);
    });
  }

  static async open(url: string): Promise<Client> {
    const c = new Client(url);
    await within(c.opened, `open ${url}`);
    return c;
  }

  next(): Promise<Message> {
    const m = this.#queue.shift();
    return within(
      m ? Promise.resolve(m) : new Promise((resolve) => this.#waiting.push(resolve)),
      "next message",
    );
  }

  async ask(text: string): Promise<Message> {
    this.socket.send(text);
    return this.next();
  }
}

function within<T>(p: Promise<T>, what: string, ms = 5000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** The status and body a refused upgrade answers with. */
function refusedUpgrade(url: string): Promise<{ status: number; body: string }> {
  const socket = new WebSocket(url);
  socket.on("error", () => {});
  return within(
    new Promise((resolve) => {
      socket.once("unexpected-response", (_req, res) => {
        let body = "";
        res.on("data", (chunk: Buffer) => (body += chunk.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
    }),
    "refused upgrade",
  );
}

/** Status line of a hand-written request, which fetch and ws would refuse to send. */
function rawStatusLine(port: number, request: string): Promise<string> {
  return within(
    new Promise((resolve, reject) => {
      let response = "";
      const socket = connect(port, "127.0.0.1", () => socket.write(request));
      socket.on("data", (chunk) => (response += chunk.toString()));
      socket.on("close", () => resolve(response.split("\r\n")[0] ?? ""));
      socket.on("error", reject);
    }),
    "raw request",
  );
}

/** A request whose body is sent chunked, without a declared length. */
function streamed(chunks: Uint8Array[]): RequestInit {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
  // `duplex` is required for a stream body but missing from the DOM typings.
  return { method: "POST", body, duplex: "half" } as RequestInit;
}

async function json(res: Response): Promise<unknown> {
  return JSON.parse(await res.text());
}

async function fails(p: Promise<unknown>): Promise<boolean> {
  return within(p.then(() => false, () => true), "expected failure");
}

/** Refused outright, or (on Deno, which must keep the port bound) answered 503. */
async function refused(p: Promise<Response>): Promise<boolean> {
  return within(p.then((res) => res.status === 503, () => true), "expected refusal");
}

export const scenarios: Record<string, (start: Start, t: Check) => Promise<void>> = {
  "port 0 picks a free port": (start, t) =>
    withServer(start, async ({ server }) => {
      t.ok(server.port > 0 && server.port < 65536, `port ${server.port}`);
    }),

  "idle timeout between 1 and 7 s is refused, since uWS would abort": async (start, t) => {
    const err = await start({ ...options(nothingSeen()), idleTimeoutSec: 3 }).then(
      (server) => server.close(),
      (e: unknown) => e,
    );
    t.ok(err instanceof JetmeshError && err.code === "bad_config", String(err));
  },

  "HTTP GET with query and header": (start, t) =>
    withServer(start, async ({ http }) => {
      const res = await fetch(http("/hello?name=ada"), { headers: { "X-Test": "yes" } });
      t.equal(res.status, 200);
      t.equal(res.headers.get("content-type"), "application/json");
      t.strictSame(await json(res), { method: "GET", name: "ada", test: "yes" });
    }),

  "HTTP POST echoes the body, up to the limit": (start, t) =>
    withServer(start, async ({ http }) => {
      const body = new Uint8Array(MAX_BODY).map((_, i) => i % 251);
      const res = await fetch(http("/echo"), { method: "POST", body });
      t.equal(res.status, 201);
      t.equal(res.headers.get("x-length"), String(MAX_BODY));
      t.strictSame(new Uint8Array(await res.arrayBuffer()), body);
      const empty = await fetch(http("/echo"), { method: "POST" });
      t.equal(empty.headers.get("x-length"), "0");
      const chunked = await fetch(
        http("/echo"),
        streamed([body.subarray(0, 100), body.subarray(100, 300)]),
      );
      t.strictSame(
        new Uint8Array(await chunked.arrayBuffer()),
        body.subarray(0, 300),
        "chunked body is joined",
      );
    }),

  "unknown route is a 404 JSON error": (start, t) =>
    withServer(start, async ({ http }) => {
      for (const [method, path] of [["GET", "/nope"], ["POST", "/hello"]]) {
        const res = await fetch(http(path), { method });
        t.equal(res.status, 404, `${method} ${path}`);
        t.equal(res.headers.get("content-type"), "application/json");
        const body = (await json(res)) as Record<string, unknown>;
        t.equal(body.op, "error");
        t.equal(body.code, "not_found");
        t.equal(typeof body.message, "string");
      }
    }),

  "too large body is a 413 JSON error": (start, t) =>
    withServer(start, async ({ http }) => {
      const res = await fetch(http("/echo"), {
        method: "POST",
        body: new Uint8Array(MAX_BODY * 4),
      });
      t.equal(res.status, 413);
      t.equal(((await json(res)) as Record<string, unknown>).code, "too_large");
      // A chunked body has no declared length, so the limit is enforced while reading.
      const half = new Uint8Array(MAX_BODY);
      const chunked = await fetch(http("/echo"), streamed([half, half]));
      t.equal(chunked.status, 413, "chunked body over the limit");
      t.equal(((await json(chunked)) as Record<string, unknown>).code, "too_large");
      const after = await fetch(http("/hello"));
      t.equal(after.status, 200, "server still answers");
    }),

  "handler errors map to JSON errors; only unexpected ones are reported": (start, t) =>
    withServer(start, async ({ http, seen }) => {
      const boom = await fetch(http("/boom"));
      t.equal(boom.status, 500);
      t.strictSame(await json(boom), { op: "error", code: "internal", message: "internal error" });
      const refused = await fetch(http("/refuse"));
      t.equal(refused.status, 400);
      t.strictSame(await json(refused), { op: "error", code: "bad_request", message: "no good" });
      t.strictSame(seen.errors, ["GET /boom"]);
    }),

  "a request the client gave up on is not answered": (start, t) =>
    withServer(start, async ({ http, seen }) => {
      const abort = new AbortController();
      const slow = fetch(http("/slow"), { signal: abort.signal });
      await until(() => seen.release !== undefined, "slow handler started");
      abort.abort();
      t.ok(await fails(slow), "client aborted");
      // Give the server time to see the abort before the handler answers.
      await new Promise((resolve) => setTimeout(resolve, 50));
      seen.release?.();
      await new Promise((resolve) => setTimeout(resolve, 50));
      t.equal((await fetch(http("/hello"))).status, 200, "server still answers");
    }),

  "a taken port fails to start": (start, t) =>
    withServer(start, async ({ server }) => {
      const err = await start({ ...options(nothingSeen()), port: server.port }).then(
        async (second) => {
          await second.close();
          return undefined;
        },
        (e: unknown) => e,
      );
      t.ok(err instanceof Error, `second server on ${server.port} refused: ${String(err)}`);
    }),

  "WebSocket echoes text as text and binary as binary": (start, t) =>
    withServer(start, async ({ ws }) => {
      const c = await Client.open(ws("token=ok&user=ada"));
      t.strictSame(await c.ask("hi ✓"), { text: "echo:hi ✓" });
      c.socket.send(new Uint8Array([0, 1, 2, 255]));
      t.strictSame(await c.next(), { bytes: new Uint8Array([0, 1, 2, 255]) });
      t.strictSame(await c.ask("many"), { text: "one" }, "sendMany: frames in order");
      t.strictSame(await c.next(), { bytes: new Uint8Array([2]) }, "sendMany: bytes stay binary");
      t.strictSame(await c.next(), { text: "three" });
      const who = JSON.parse((await c.ask("whoami")).text ?? "");
      t.equal(who.user, "ada");
      t.ok(String(who.remote).includes("127.0.0.1"), `remote ${who.remote}`);
      c.socket.close(1000);
      await within(c.closed, "close");
    }),

  "oversized frame closes with 1009, other connections stay usable": (start, t) =>
    withServer(start, async ({ ws }) => {
      const big = await Client.open(ws());
      const other = await Client.open(ws());
      big.socket.send(new Uint8Array(MAX_FRAME + 1));
      t.equal((await within(big.closed, "1009 close")).code, 1009);
      t.strictSame(await other.ask("still"), { text: "echo:still" });
      const bigText = await Client.open(ws());
      bigText.socket.send("x".repeat(MAX_FRAME + 1));
      t.equal((await within(bigText.closed, "1009 close")).code, 1009, "text frames too");
      // uWS drops the TCP connection without a close frame far above the limit.
      const huge = await Client.open(ws());
      huge.socket.send(new Uint8Array(MAX_FRAME * 3));
      t.ok(
        [1009, 1006].includes((await within(huge.closed, "huge frame close")).code),
        "far above the limit",
      );
      const fits = await Client.open(ws());
      fits.socket.send(new Uint8Array(MAX_FRAME));
      t.equal((await fits.next()).bytes?.byteLength, MAX_FRAME, "a frame at the limit passes");
      t.strictSame(await other.ask("still"), { text: "echo:still" });
    }),

  "a text frame that is not UTF-8 closes the connection before the app sees it": (start, t) =>
    withServer(start, async ({ ws, seen }) => {
      const c = await Client.open(ws());
      c.socket.send(new Uint8Array([0x68, 0xff, 0xfe]), { binary: false });
      t.equal((await within(c.closed, "close")).code, 1006);
      await until(() => seen.closed.length === 1, "server close handler");
      t.equal(seen.closed[0]?.code, 1006, "server sees an abnormal close");
      t.equal(seen.messages, 0, "message handler not called");
    }),

  "upgrade refused by a JetmeshError answers with its status": (start, t) =>
    withServer(start, async ({ server, http, ws, seen }) => {
      const refused = await refusedUpgrade(ws("token=bad"));
      t.equal(refused.status, 401);
      t.strictSame(JSON.parse(refused.body), {
        op: "error",
        code: "unauthorized",
        message: "bad token",
      });
      const crashed = await refusedUpgrade(ws("token=crash"));
      t.equal(crashed.status, 500);
      t.strictSame(seen.errors, ["upgrade /ws"]);
      const plain = await fetch(http("/ws?token=ok"));
      t.equal(plain.status, 404, "a plain GET on the WebSocket path is an unknown route");
      const keyless = await rawStatusLine(
        server.port,
        "GET /ws?token=ok HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: close\r\n\r\n",
      );
      t.equal(keyless, "HTTP/1.1 404 Not Found", "a handshake without a key is a plain request");
    }),

  "an async upgrade accepts or refuses after its await; a client gone meanwhile is dropped quietly":
    (start, t) =>
      withServer(start, async ({ ws, seen }) => {
        const c = await Client.open(ws("token=later&user=ann"));
        t.equal(
          JSON.parse((await c.ask("whoami")).text ?? "").user,
          "ann",
          "accepted after the await",
        );
        c.socket.close();
        const refused = await refusedUpgrade(ws("token=later-bad"));
        t.equal(refused.status, 401);
        t.strictSame(JSON.parse(refused.body), {
          op: "error",
          code: "unauthorized",
          message: "bad token, later",
        });
        const gone = new WebSocket(ws("token=later&wait=200"));
        gone.on("error", () => {});
        await new Promise((r) => setTimeout(r, 50));
        gone.terminate();
        await new Promise((r) => setTimeout(r, 300));
        const after = await Client.open(ws("token=ok&user=bo"));
        t.equal(
          JSON.parse((await after.ask("whoami")).text ?? "").user,
          "bo",
          "the server still serves",
        );
        after.socket.close();
        t.strictSame(seen.errors, [], "nothing reported as internal");
      }),

  "send after close returns closed": (start, t) =>
    withServer(start, async ({ ws, seen }) => {
      const c = await Client.open(ws());
      c.socket.close(1000, "bye");
      await within(c.closed, "client close");
      await until(() => seen.closed.length === 1, "server close handler");
      t.strictSame(seen.closed, [{
        code: 1000,
        reason: "bye",
        late: "closed",
        isClosed: true,
        buffered: 0,
      }]);

      const d = await Client.open(ws());
      d.socket.send("close-me");
      t.strictSame(await within(d.closed, "server-initiated close"), {
        code: 4000,
        reason: "asked",
      });
      t.strictSame(seen.afterServerClose, ["closed"]);

      const e = await Client.open(ws());
      e.socket.send("close-plain");
      t.equal((await within(e.closed, "close without a code")).code, 1005, "no status code");
    }),

  "backpressure answers buffered, then drain fires": (start, t) =>
    withServer(start, async ({ ws }) => {
      const c = await Client.open(ws());
      c.socket.send("flood");
      const chunks: number[] = [];
      let m = await c.next();
      while (m.bytes) {
        chunks.push(m.bytes.byteLength);
        m = await c.next();
      }
      t.equal(m.text, `flooded:${chunks.length}`);
      t.ok(
        chunks.every((n) => n === FLOOD_CHUNK.byteLength),
        `${chunks.length} chunks arrived whole`,
      );
      t.strictSame(await c.next(), { text: "drained" });
      t.strictSame(await c.ask("after"), { text: "echo:after" });
    }),

  "stopListening refuses new connections but keeps open sockets": (start, t) =>
    withServer(start, async ({ server, http, ws }) => {
      const c = await Client.open(ws());
      server.stopListening();
      server.stopListening();
      t.ok(await refused(fetch(http("/hello"))), "new HTTP request refused");
      t.ok(await fails(Client.open(ws())), "new WebSocket refused");
      t.strictSame(await c.ask("alive"), { text: "echo:alive" });
    }),

  "close() closes every client with 1001": (start, t) =>
    withServer(start, async ({ server, ws, seen }) => {
      const clients = [await Client.open(ws()), await Client.open(ws())];
      await within(server.close(), "server close");
      for (const c of clients) t.equal((await within(c.closed, "client sees close")).code, 1001);
      t.strictSame(seen.closed.map((c) => c.late), ["closed", "closed"]);
      t.ok(await fails(Client.open(ws())), "no longer listening");
    }),

  "close() does not wait forever for a client that stopped reading": (start, t) =>
    withServer(start, async ({ server, ws }) => {
      const c = await Client.open(ws());
      (c.socket as unknown as { _socket: { pause(): void } })._socket.pause();
      const began = Date.now();
      await within(server.close(), "server close", 3000);
      t.ok(Date.now() - began < 3000, `closed in ${Date.now() - began} ms`);
      c.socket.terminate();
    }),
};

async function until(condition: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
