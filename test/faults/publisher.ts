import WebSocket from "ws";
import { backoff } from "./wait.ts";

/** The one event of a channel that is sent and not yet acked. */
interface Pending {
  id: string;
  sends: number;
  /** Connection number of the send still waiting for an answer; undefined once answered. */
  awaitingOn?: number;
  /** The event may already be stored: a send was lost to a crash or answered `unavailable`. */
  uncertain: boolean;
  /**
   * A send got no answer before a graceful (1001) close, while the event could not have been
   * stored before.
   */
  orphanedByGracefulClose: boolean;
}

interface ChannelState {
  channel: string;
  count: number;
  /** Client ids in send order: one event at a time, so this is the order they must be stored in. */
  order: string[];
  pending?: Pending;
  timer?: NodeJS.Timeout;
}

export interface PublisherStats {
  resends: number;
  dupAcks: number;
  unavailable: number;
  overloaded: number;
  reconnects: number;
  /** Error frames that a careful client never expects (bad input, internal). */
  unexpected: string[];
  /**
   * Acked `dup: true` after a graceful close left the send unanswered: ingest stored it and
   * dropped the ack.
   */
  acksLostToGracefulStop: string[];
}

/**
 * A careful WebSocket publisher: per channel at most one unacked event, so
 * the per-channel order of its events is the order it sent them, whatever
 * fails. After a disconnect, `unavailable` or `overloaded` it resends the
 * unacked event with the same id.
 */
export class Publisher {
  readonly name: string;
  /** Client ids acked by ingest. */
  readonly acked = new Set<string>();
  readonly stats: PublisherStats = {
    resends: 0,
    dupAcks: 0,
    unavailable: 0,
    overloaded: 0,
    reconnects: 0,
    unexpected: [],
    acksLostToGracefulStop: [],
  };
  /** One per ingest replica; each connection goes to the next. */
  readonly #urls: string[];
  readonly #intervalMs: number;
  readonly #channels: ChannelState[];
  readonly #byId = new Map<string, ChannelState>();
  #ws?: WebSocket;
  #conn = 0;
  #connectAttempt = 0;
  #stopping = false;
  #closed = false;
  #idle?: () => void;

  /**
   * `token` proves `name` (its sub, the publisher in event ids); `intervalMs` is
   * the pause after an ack before the channel's next event: it sets the load.
   */
  constructor(
    ingestWs: string[],
    name: string,
    token: string,
    channels: string[],
    intervalMs: number,
  ) {
    this.name = name;
    this.#urls = ingestWs.map((url) => `${url}?token=${token}`);
    this.#intervalMs = intervalMs;
    this.#channels = channels.map((channel) => ({ channel, count: 0, order: [] }));
  }

  start(): void {
    this.#connect();
  }

  /** Client ids per channel, in send order. */
  sent(): Map<string, string[]> {
    return new Map(this.#channels.map((c) => [c.channel, c.order]));
  }

  get published(): number {
    return this.#channels.reduce((n, c) => n + c.order.length, 0);
  }

  get unacked(): number {
    return this.#channels.filter((c) => c.pending).length;
  }

  /** Stops starting new events and resolves once every sent event is acked. */
  stop(): Promise<void> {
    this.#stopping = true;
    for (const c of this.#channels) {
      if (!c.pending) clearTimeout(c.timer);
    }
    return new Promise<void>((resolve) => {
      this.#idle = resolve;
      this.#checkIdle();
    });
  }

  /**
   * After `stop()` resolved: one last event on every channel (client id
   * `<channel>-end`), resolved with their event ids once all are acked. Sent
   * after everything else was acked, each is stored after every event of its
   * channel, so a subscriber that has it has been sent everything before it
   * (order per channel), a late duplicate included: the end signal of a run,
   * instead of a pause a duplicate could outlast.
   */
  end(): Promise<string[]> {
    const open = this.#ws?.readyState === WebSocket.OPEN;
    const ids: string[] = [];
    for (const c of this.#channels) {
      if (c.pending) throw new Error(`end() before stop() resolved: ${c.pending.id} unacked`);
      const id = `${c.channel}-end`;
      c.order.push(id);
      c.pending = { id, sends: 0, uncertain: false, orphanedByGracefulClose: false };
      this.#byId.set(id, c);
      ids.push(`${this.name}:${id}`);
      // Not open: the reconnect's open handler sends what is pending.
      if (open) this.#send(c, this.#conn);
    }
    return new Promise((resolve) => {
      this.#idle = () => resolve(ids);
      this.#checkIdle();
    });
  }

  close(): void {
    this.#closed = true;
    for (const c of this.#channels) clearTimeout(c.timer);
    this.#ws?.terminate();
  }

  #connect(): void {
    if (this.#closed) return;
    const conn = ++this.#conn;
    const ws = new WebSocket(this.#urls[(conn - 1) % this.#urls.length], {
      handshakeTimeout: 3000,
    });
    this.#ws = ws;
    ws.on("open", () => {
      this.#connectAttempt = 0;
      for (const c of this.#channels) {
        if (c.pending) this.#send(c, conn);
        else if (!this.#stopping) this.#schedule(c, 0, conn);
      }
    });
    ws.on("message", (data: Buffer) => this.#onFrame(JSON.parse(data.toString("utf8")), conn));
    ws.on("error", () => {}); // a close event follows
    ws.on("close", (code: number) => this.#onClose(code, conn));
  }

  #onClose(code: number, conn: number): void {
    for (const c of this.#channels) {
      clearTimeout(c.timer);
      const p = c.pending;
      if (!p || p.awaitingOn !== conn) continue;
      p.awaitingOn = undefined;
      // A graceful stop must answer every publish it took; one it never read is not
      // stored, so its resend is not a dup.
      if (code === 1001 && !p.uncertain) p.orphanedByGracefulClose = true;
      else this.#uncertain(p);
    }
    if (this.#closed) return;
    this.stats.reconnects++;
    setTimeout(() => this.#connect(), backoff(this.#connectAttempt++));
  }

  #schedule(c: ChannelState, delayMs: number, conn: number): void {
    clearTimeout(c.timer);
    c.timer = setTimeout(() => {
      if (conn !== this.#conn || this.#ws?.readyState !== WebSocket.OPEN) return;
      if (!c.pending) {
        const id = `${c.channel}-${c.count++}`;
        c.order.push(id);
        c.pending = { id, sends: 0, uncertain: false, orphanedByGracefulClose: false };
        this.#byId.set(id, c);
      }
      this.#send(c, conn);
    }, delayMs);
  }

  #send(c: ChannelState, conn: number): void {
    const p = c.pending!;
    if (p.sends++ > 0) this.stats.resends++;
    p.awaitingOn = conn;
    this.#ws!.send(
      JSON.stringify({ op: "pub", id: p.id, channel: c.channel, data: { p: this.name, id: p.id } }),
    );
  }

  #onFrame(f: Record<string, unknown>, conn: number): void {
    const c = this.#byId.get(String(f.id));
    const p = c?.pending;
    if (!c || !p || p.id !== f.id || p.awaitingOn !== conn) {
      this.stats.unexpected.push(`answer to nothing in flight: ${JSON.stringify(f)}`);
      return;
    }
    p.awaitingOn = undefined;
    if (f.op === "ack") {
      this.acked.add(p.id);
      if (f.dup === true) {
        this.stats.dupAcks++;
        if (p.orphanedByGracefulClose) {
          this.stats.acksLostToGracefulStop.push(`${this.name}:${p.id}`);
        }
      }
      c.pending = undefined;
      this.#byId.delete(p.id);
      if (this.#stopping) this.#checkIdle();
      else this.#schedule(c, this.#intervalMs, conn);
      return;
    }
    if (f.op === "error" && (f.code === "unavailable" || f.code === "overloaded")) {
      if (f.code === "unavailable") {
        this.stats.unavailable++;
        this.#uncertain(p);
      } else {
        this.stats.overloaded++;
      }
      this.#schedule(c, backoff(2), conn);
      return;
    }
    this.stats.unexpected.push(JSON.stringify(f));
  }

  /**
   * From here on a dup ack is expected: the event may have been stored without its ack
   * reaching us.
   */
  #uncertain(p: Pending): void {
    p.uncertain = true;
    p.orphanedByGracefulClose = false;
  }

  #checkIdle(): void {
    if (this.#idle && this.unacked === 0) this.#idle();
  }
}
