// A connection's answers of one turn leave in one sendMany, in order; a
// closed connection is not checked for slowness; flush sends them at once
// (before a close).
import t from "tap";
import type { WsConnection } from "../wsserver/mod.ts";
import { answerer, type Answering, answersSent } from "./answers.ts";

function conn(closed = false) {
  const writes: Array<ReadonlyArray<string | Uint8Array>> = [];
  const c = {
    data: {} as Answering,
    sendMany: (frames: ReadonlyArray<string | Uint8Array>) => {
      writes.push(frames);
      return closed ? "closed" : "sent";
    },
  } as unknown as WsConnection<Answering>;
  return { c, writes };
}

const turn = () => new Promise((r) => setImmediate(r));

t.test("one write per connection per turn, in order", async (t) => {
  const checked: string[] = [];
  const answer = answerer<Answering>((_c, enc) => checked.push(enc)).reply;
  const a = conn();
  const b = conn();
  answer(a.c, { op: "ack", id: "1" } as never, "json");
  answer(b.c, { op: "ack", id: "x" } as never, "json");
  answer(a.c, { op: "ack", id: "2" } as never, "json");
  t.equal(a.writes.length, 0, "nothing sent within the turn");
  await turn();
  t.equal(a.writes.length, 1, "a: one write");
  t.same(a.writes[0].map((f) => JSON.parse(String(f)).id), ["1", "2"], "a: in order");
  t.equal(b.writes.length, 1, "b: one write");
  t.same(checked, ["json", "json"], "each open connection checked once");
  answer(a.c, { op: "ack", id: "3" } as never, "json");
  await turn();
  t.equal(a.writes.length, 2, "a later answer goes in a write of its own");
});

t.test("a closed connection is not checked", async (t) => {
  let checked = 0;
  const answer = answerer<Answering>(() => checked++).reply;
  const a = conn(true);
  answer(a.c, { op: "ack", id: "1" } as never, "json");
  await turn();
  t.equal(checked, 0);
});

t.test("flush sends a connection's waiting answers at once, and only once", async (t) => {
  const { reply, flush } = answerer<Answering>(() => {});
  const a = conn();
  reply(a.c, { op: "error", code: "rate_limited" } as never, "json");
  flush(a.c);
  t.equal(a.writes.length, 1, "sent before the turn ends (as before a close)");
  await turn();
  t.equal(a.writes.length, 1, "not sent again at the end of the turn");
});

t.test("answersSent resolves after every answer queued before it went out", async (t) => {
  const answer = answerer<Answering>(() => {}).reply;
  const a = conn();
  answer(a.c, { op: "ack", id: "last" } as never, "json");
  await answersSent();
  t.same(a.writes.map((w) => w.length), [1], "sent before a graceful stop closes the socket");
});
