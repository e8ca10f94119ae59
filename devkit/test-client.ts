import WebSocket from "ws";
import { packValue, unpackValue } from "../internal/codec/mod.ts";

export type Frame = Record<string, unknown> & { op: string };

const MARKER = "marker";
let markers = 0;

/** Whether an event id is one of `deliveredThrough`'s markers. */
export function isMarker(id: unknown): boolean {
  return String(id).includes(`:${MARKER}-`);
}

/**
 * Publishes a marker event on `channel` and waits until `sub` receives it.
 * Events of a channel arrive in order, so once the marker is in, everything
 * published on the channel before it that was going to arrive has: a check
 * that nothing arrived twice then needs no fixed wait (which a late duplicate
 * could outlast).
 */
export async function deliveredThrough(
  publish: (frame: Record<string, unknown>) => unknown,
  sub: TestClient,
  channel: string,
): Promise<void> {
  const id = `${MARKER}-${++markers}`;
  const from = sub.frames.length;
  await publish({ op: "pub", id, channel, data: MARKER });
  await sub.next(
    (f) => f.op === "event" && f.channel === channel && String(f.id).endsWith(`:${id}`),
    from,
  );
}

/**
 * The same proof for subscribers that are not TestClients (Followers, raw
 * readers): publishes one marker on each of `channels`, as publisher `mark`,
 * and waits for their acks; returns their event ids. Call it once the test's
 * own publishers are done, then wait until a subscriber holds the markers of
 * its channels (`waitFor`).
 */
export async function publishMarkers(ingestWs: string, channels: string[]): Promise<string[]> {
  const pub = await TestClient.open(`${ingestWs}?publisher=mark`);
  try {
    const ids = channels.map((channel) => {
      const id = `${MARKER}-${++markers}`;
      pub.sendJson({ op: "pub", id, channel, data: MARKER });
      return `mark:${id}`;
    });
    await pub.until((fs) => fs.length >= ids.length, 15_000, "the markers' acks");
    const wrong = pub.frames.filter((f) => f.op !== "ack");
    if (wrong.length > 0) throw new Error(`markers refused: ${JSON.stringify(wrong)}`);
    return ids;
  } finally {
    await pub.close();
  }
}

/** Polls `ok` until it holds; throws naming `what` after `timeoutMs`. */
export async function waitFor(what: string, ok: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A test WebSocket client that collects frames and lets a test wait for the ones it expects. */
export class TestClient {
  readonly ws: WebSocket;
  readonly frames: Frame[] = [];
  /** The frames that came as binary (msgpack) WebSocket frames; the rest came as text (JSON). */
  readonly #binary = new WeakSet<Frame>();
  #waiters: Array<() => void> = [];
  closed?: { code: number; reason: string };

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      const frame =
        (isBinary ? unpackValue(new Uint8Array(data)) : JSON.parse(data.toString("utf8"))) as Frame;
      if (isBinary) this.#binary.add(frame);
      this.frames.push(frame);
      this.#wake();
    });
    ws.on("close", (code: number, reason: Buffer) => {
      this.closed = { code, reason: reason.toString() };
      this.#wake();
    });
  }

  /** Whether a received frame came as a binary frame (msgpack) rather than text (JSON). */
  isBinary(frame: Frame): boolean {
    return this.#binary.has(frame);
  }

  #wake() {
    for (const w of this.#waiters.splice(0)) w();
  }

  static open(url: string): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      const client = new TestClient(ws);
      ws.once("open", () => resolve(client));
      ws.once("error", reject);
      ws.once(
        "unexpected-response",
        (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)),
      );
    });
  }

  sendJson(v: unknown): void {
    this.ws.send(JSON.stringify(v));
  }

  sendRaw(data: string | Uint8Array, binary: boolean): void {
    this.ws.send(data, { binary });
  }

  sendMsgpack(v: unknown): void {
    this.ws.send(packValue(v), { binary: true });
  }

  /** Waits until `pred` holds over the frames received so far. */
  async until(
    pred: (frames: Frame[]) => boolean,
    timeoutMs = 15_000,
    what = "frames",
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.frames)) {
      if (this.closed) {
        throw new Error(`connection closed (${this.closed.code}) while waiting for ${what}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`timed out waiting for ${what}; have ${this.frames.length} frames`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Waits for the first frame after index `from` matching `pred`, and returns it. */
  async next(pred: (f: Frame) => boolean, from = 0, timeoutMs = 15_000): Promise<Frame> {
    let found: Frame | undefined;
    await this.until(
      (fs) => (found = fs.slice(from).find(pred)) !== undefined,
      timeoutMs,
      "a matching frame",
    );
    return found!;
  }

  ofOp(op: string): Frame[] {
    return this.frames.filter((f) => f.op === op);
  }

  /** Event frames other than the markers of `deliveredThrough`. */
  events(): Frame[] {
    return this.ofOp("event").filter((f) => !isMarker(f.id));
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once("close", () => resolve());
      this.ws.close();
    });
  }
}
