/**
 * What the examples' end-to-end comparisons share (iot-results.ts, transactions-results.ts):
 * the generator's input paced over a few seconds, a subscriber on what route derives, and
 * collecting its events until the expected ones are in.
 */
import type { Test } from "tap";
import { type Frame, TestClient } from "../../devkit/test-client.ts";
import { publishAll, type WireEvent } from "../../examples/load/publish.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The planned events sent over `spreadMs` from now, in the planned order. */
export function paced(events: WireEvent[], spreadMs: number): WireEvent[] {
  const first = Date.now() + 500;
  const n = events.length;
  return events.map((e, i) => ({ ...e, at: first + Math.floor((i * spreadMs) / n) }));
}

/**
 * Small requests: ingest publishes a request's events channel by channel, so a large one
 * would store a later reading of one device before an earlier one of another, further apart
 * than the lateness the generator allows for (its batches span milliseconds, not seconds).
 */
export const MAX_BATCH = 10;

/** Publishes the paced input through ingest, and checks that ingest took each event once. */
export async function publishInput(
  t: Test,
  stack: { ingestHttp: string; token: string },
  events: WireEvent[],
): Promise<void> {
  const stats = await publishAll(events, {
    ingestUrl: stack.ingestHttp,
    token: stack.token,
    maxBatch: MAX_BATCH,
  });
  t.equal(stats.failed, 0, "nothing refused");
  // Fewer would mean ingest took some event for another with its id (the same publisher's).
  const copies = events.length - new Set(events.map((e) => e.id)).size;
  t.equal(stats.duplicates, copies, `only the ${copies} copies in the input acked as duplicates`);
}

/** A notify client subscribed to `channels` (with `token`, if given). */
export async function subscriber(
  t: Test,
  url: string,
  channels: string[],
  token?: string,
): Promise<TestClient> {
  const sub = await TestClient.open(token ? `${url}?token=${token}` : url);
  t.teardown(() => sub.close());
  for (const channel of channels) {
    sub.sendJson({ op: "sub", channel });
    await sub.next((f) => f.op === "subscribed" && f.channel === channel);
  }
  return sub;
}

export function byChannel(events: Frame[], prefix: string): Frame[] {
  return events.filter((f) => String(f.channel).startsWith(prefix));
}

/**
 * Waits until `done` holds of the events received (or the time is up), and a moment more for
 * anything that should not come (a duplicate, a late alert); then checks that no event came
 * twice, and returns them all with the number of repeated ids.
 */
export async function collect(
  t: Test,
  sub: TestClient,
  done: (events: Frame[]) => boolean,
  waitMs: number,
): Promise<{ events: Frame[]; duplicates: number }> {
  const deadline = Date.now() + waitMs;
  while (!done(sub.events()) && Date.now() < deadline) await sleep(200);
  await sleep(1500);
  const events = sub.events();
  const ids = events.map((f) => String(f.id));
  const twice = ids.filter((id, i) => ids.indexOf(id) !== i);
  t.same(twice, [], "no event delivered twice");
  return { events, duplicates: twice.length };
}
