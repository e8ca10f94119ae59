import type { ConsumerMessages } from "@nats-io/jetstream";

/**
 * Keeps a pinned client's pin across fetches.
 *
 * With a `pinned_client` priority group the server pins the first puller and
 * expects its pin id (`Nats-Pin-Id`) on every later pull. nats.js 3.4 stores
 * that id on each pull iterator (`PullConsumerMessagesImpl.natsPinId`), so
 * consume() keeps it across its refills, but every fetch() starts without it:
 * a worker that fetches loses its own pin after each fetch (its next pulls get
 * nothing until `priority_timeout`). route fetches (batches.ts explains why a
 * fetch and not consume()), so the id is kept here, per consumer, and put back
 * on each new fetch before its pull goes out. nats.js has no option for it;
 * the iterator class is not exported, so its prototype is reached through the
 * first iterator. Written against @nats-io/jetstream 3.4; `patch` throws if a
 * later version renamed what is used here.
 */
interface PullIterator {
  consumer: { stream: string; _info: { name: string } };
  isPinned: boolean;
  natsPinId: string;
  pullOptions(): unknown;
}

const pins = new Map<string, string>();
let patched = false;

function keyOf(stream: string, name: string): string {
  return `${stream}\u0000${name}`;
}

/** Wraps the iterator class's pullOptions once, so a fetch starts with the pin it had. */
function patch(it: PullIterator): void {
  if (patched) return;
  const proto = Object.getPrototypeOf(it) as PullIterator;
  if (typeof proto.pullOptions !== "function" || typeof it.natsPinId !== "string") {
    throw new Error("nats.js pull iterator without natsPinId/pullOptions: pins.ts needs updating");
  }
  const original = proto.pullOptions;
  proto.pullOptions = function (this: PullIterator) {
    if (this.isPinned && this.natsPinId === "") {
      const id = pins.get(keyOf(this.consumer.stream, this.consumer._info.name));
      if (id !== undefined) this.natsPinId = id;
    }
    return original.call(this);
  };
  patched = true;
}

/** The pin this process holds on a consumer, if any. */
export function pinOf(stream: string, name: string): string | undefined {
  return pins.get(keyOf(stream, name));
}

/** After a fetch (or while it runs): remembers the pin it holds now, or forgets a lost one. */
export function keepPin(messages: ConsumerMessages): string | undefined {
  const it = messages as unknown as PullIterator;
  patch(it);
  const key = keyOf(it.consumer.stream, it.consumer._info.name);
  if (it.natsPinId !== "") pins.set(key, it.natsPinId);
  else pins.delete(key);
  return it.natsPinId === "" ? undefined : it.natsPinId;
}

/** Forgets the pin on a consumer (after unpinning it on purpose). */
export function dropPin(stream: string, name: string): void {
  pins.delete(keyOf(stream, name));
}
