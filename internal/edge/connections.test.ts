import t from "tap";
import { ConnectionCounter } from "./connections.ts";

t.test("per address: the cap refuses the next, a close frees a slot", async (t) => {
  const c = new ConnectionCounter({ perAddress: 2, perIdentity: 10 });
  t.ok(c.open("1.1.1.1", undefined));
  t.ok(c.open("1.1.1.1", "alice"));
  t.throws(() => c.check("1.1.1.1", undefined), {
    code: "limit_exceeded",
    message: "at most 2 connections per client address",
  });
  t.notOk(c.open("1.1.1.1", "bob"), "open refuses too, and counts nothing");
  t.ok(c.open("2.2.2.2", undefined), "another address");
  c.close("1.1.1.1", "alice");
  t.ok(c.open("1.1.1.1", "bob"), "a slot freed");
  t.notOk(c.open("1.1.1.1", "bob"));
});

t.test("per identity: across addresses; anonymous connections count per address only", async (t) => {
  const c = new ConnectionCounter({ perAddress: 10, perIdentity: 2 });
  t.ok(c.open("1.1.1.1", "alice"));
  t.ok(c.open("2.2.2.2", "alice"));
  t.throws(() => c.check("3.3.3.3", "alice"), {
    code: "limit_exceeded",
    message: "at most 2 connections per identity",
  });
  t.ok(c.open("3.3.3.3", "bob"));
  for (let i = 0; i < 5; i++) t.ok(c.open("4.4.4.4", undefined));
  c.close("1.1.1.1", "alice");
  t.ok(c.open("3.3.3.3", "alice"));
});

t.test("counts return to zero: a closed address or identity starts afresh", async (t) => {
  const c = new ConnectionCounter({ perAddress: 1, perIdentity: 1 });
  for (let i = 0; i < 3; i++) {
    t.ok(c.open("1.1.1.1", "alice"), `round ${i}`);
    t.notOk(c.open("1.1.1.1", "alice"));
    c.close("1.1.1.1", "alice");
  }
  c.close("1.1.1.1", "alice");
  t.ok(c.open("1.1.1.1", "alice"), "an extra close does not go below zero");
  t.notOk(c.open("1.1.1.1", "alice"), "nor lift the cap");
});
