// The publisher's deadline sweeper runs only while requests are outstanding:
// a request after an idle spell still times out.
import type { Msg, NatsConnection } from "@nats-io/transport-node";
import t from "tap";
import { PipelinedPublisher } from "./pipeline.ts";

function fakeConnection() {
  let answer: ((err: unknown, m: Msg) => void) | undefined;
  const sent: string[] = [];
  const nc = {
    subscribe: (_s: string, o: { callback: (err: unknown, m: Msg) => void }) => {
      answer = o.callback;
    },
    publish: (_subject: string, _data: Uint8Array, o: { reply: string }) => sent.push(o.reply),
    closed: () => new Promise(() => {}),
  } as unknown as NatsConnection;
  const reply = (i: number) =>
    answer!(null, { subject: sent[i], data: new Uint8Array(), headers: undefined } as Msg);
  return { nc, reply };
}

/** The sweeper is unref'd, as the NATS socket keeps a service alive; a test needs a timer of its own. */
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test("an unanswered request times out, also after the sweeper stopped for want of work", async (t) => {
  const { nc, reply } = fakeConnection();
  const pub = new PipelinedPublisher(nc, "_INBOX_test", 50);
  const answered = pub.request("x", new Uint8Array());
  reply(0);
  await answered;
  // Past a sweep that found nothing outstanding and stopped.
  await wait(150);
  const late = pub.request("y", new Uint8Array());
  const keepAlive = setTimeout(() => {}, 1000);
  await t.rejects(late, { name: "TimeoutError" }, "the sweeper started again");
  clearTimeout(keepAlive);
});
