/**
 * A well-behaved publisher and subscriber on a channel no fuzzer touches:
 * while the fuzzers run, every event the publisher got an ack for must reach
 * the subscriber once, in order, without long stalls.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { type Frame, FuzzSocket } from "./socket.ts";

export interface BystanderReport {
  acked: number;
  delivered: number;
  /** Longest time between two deliveries while the publisher ran, in ms. */
  maxGapMs: number;
  problems: string[];
}

export interface Bystanders {
  /** Stops publishing, waits until the subscriber has every acked event (or `timeoutMs`), and closes both. */
  finish(timeoutMs: number): Promise<BystanderReport>;
}

const ANSWER_TIMEOUT_MS = 15_000;

export async function startBystanders(ingestUrl: string, notifyUrl: string, channel: string, intervalMs: number): Promise<Bystanders> {
  const problems: string[] = [];
  const sub = await FuzzSocket.open(notifyUrl);
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
  sub.send({ kind: "bystander", payload: JSON.stringify({ op: "sub", channel }), binary: false });
  const subscribed = await sub.next((f) => f.op !== "event", onEvent, ANSWER_TIMEOUT_MS);
  if (!("frame" in subscribed) || subscribed.frame.op !== "subscribed") throw new Error(`bystander subscribe failed: ${JSON.stringify(subscribed)}`);
  // Events are no answers: the subscriber's reader takes them all, as they come.
  const reading = sub.next(() => false, onEvent, 24 * 3_600_000);

  const pub = await FuzzSocket.open(`${ingestUrl}${ingestUrl.includes("?") ? "&" : "?"}publisher=calm`);
  let acked = 0;
  const publishing$ = (async () => {
    while (publishing) {
      const id = String(acked + 1);
      pub.send({ kind: "bystander", payload: JSON.stringify({ op: "pub", id, channel, data: { n: acked + 1 } }), binary: false });
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
      await publishing$;
      const deadline = Date.now() + timeoutMs;
      while (delivered < acked && Date.now() < deadline && sub.closed === undefined) await sleep(50);
      if (delivered !== acked) problems.push(`subscriber has ${delivered} of ${acked} acked events`);
      await pub.close();
      await sub.close();
      await reading;
      return { acked, delivered, maxGapMs, problems };
    },
  };
}
