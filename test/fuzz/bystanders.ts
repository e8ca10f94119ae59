/**
 * A well-behaved publisher and subscriber on a channel no fuzzer touches:
 * while the fuzzers run, every event the publisher got an ack for must reach
 * the subscriber once, in order, without long stalls. Beside them a watcher
 * subscribed to everything checks that each event's publisher was allowed
 * to publish on its channel: no hostile frame got past authorization.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { patternCovers } from "../../subjects/mod.ts";
import { type Frame, FuzzSocket } from "./socket.ts";

export interface BystanderReport {
  acked: number;
  delivered: number;
  /** Events the watcher saw, all publishers. */
  watched: number;
  /** Longest time between two deliveries while the publisher ran, in ms. */
  maxGapMs: number;
  problems: string[];
}

export interface Bystanders {
  /**
   * Stops publishing, waits until the subscriber has every acked event (or `timeoutMs`), and
   * closes both.
   */
  finish(timeoutMs: number): Promise<BystanderReport>;
}

const ANSWER_TIMEOUT_MS = 15_000;

export interface BystanderOptions {
  /** Upgrade URLs with the publisher's token (its sub is `calm`) and the subscriber's. */
  ingestUrl: string;
  notifyUrl: string;
  channel: string;
  intervalMs: number;
  /** The watcher's upgrade URL (a token that may subscribe to `>`). */
  watcherUrl: string;
  /** Per publisher (a token's sub), the channel patterns its token grants. */
  grants: Record<string, string[]>;
  /** Patterns anyone may publish to (namespaces open to anonymous callers). */
  open: string[];
}

/** Subscribes to `channel` and hands every later frame to `onEvent` until the socket closes. */
async function subscribed(
  url: string,
  channel: string,
  onEvent: (f: Frame) => void,
): Promise<{ sock: FuzzSocket; reading: Promise<unknown> }> {
  const sock = await FuzzSocket.open(url);
  sock.send({ kind: "bystander", payload: JSON.stringify({ op: "sub", channel }), binary: false });
  const answer = await sock.next((f) => f.op !== "event", onEvent, ANSWER_TIMEOUT_MS);
  if (!("frame" in answer) || answer.frame.op !== "subscribed") {
    throw new Error(`bystander subscribe to ${channel} failed: ${JSON.stringify(answer)}`);
  }
  // Events are no answers: the reader takes them all, as they come.
  return { sock, reading: sock.next(() => false, onEvent, 24 * 3_600_000) };
}

export async function startBystanders(o: BystanderOptions): Promise<Bystanders> {
  const { channel, intervalMs } = o;
  const problems: string[] = [];
  let watched = 0;
  const watcher = await subscribed(o.watcherUrl, ">", (f) => {
    if (f.op !== "event") return;
    watched++;
    const publisher = String(f.id).split(":")[0];
    if (
      ![...o.grants[publisher] ?? [], ...o.open].some((g) => patternCovers(g, String(f.channel)))
    ) {
      problems.push(`${f.id} was published on ${f.channel}, which ${publisher} may not publish to`);
    }
  });
  let delivered = 0;
  let lastAt = Date.now();
  let maxGapMs = 0;
  let publishing = true;
  const onEvent = (f: Frame) => {
    if (f.op !== "event") return;
    const expected = `calm:${delivered + 1}`;
    if (f.id !== expected) problems.push(`subscriber got ${f.id} where ${expected} was due`);
    delivered++;
    if (publishing) maxGapMs = Math.max(maxGapMs, Date.now() - lastAt);
    lastAt = Date.now();
  };
  const sub = await subscribed(o.notifyUrl, channel, onEvent);
  const pub = await FuzzSocket.open(o.ingestUrl);
  let acked = 0;
  const pumping = (async () => {
    while (publishing) {
      const id = String(acked + 1);
      pub.send({
        kind: "bystander",
        payload: JSON.stringify({ op: "pub", id, channel, data: { n: acked + 1 } }),
        binary: false,
      });
      const out = await pub.next(() => true, () => {}, ANSWER_TIMEOUT_MS);
      if (!("frame" in out) || out.frame.op !== "ack" || out.frame.id !== id) {
        problems.push(`publisher: ${JSON.stringify(out)} for event ${id}`);
        return;
      }
      acked++;
      await sleep(intervalMs);
    }
  })();

  return {
    async finish(timeoutMs) {
      publishing = false;
      await pumping;
      const deadline = Date.now() + timeoutMs;
      while (delivered < acked && Date.now() < deadline && sub.sock.closed === undefined) {
        await sleep(50);
      }
      if (delivered !== acked) {
        problems.push(`subscriber has ${delivered} of ${acked} acked events`);
      }
      await pub.close();
      for (const s of [sub, watcher]) {
        await s.sock.close();
        await s.reading;
      }
      return { acked, delivered, watched, maxGapMs, problems };
    },
  };
}
