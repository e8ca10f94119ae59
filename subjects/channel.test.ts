import t from "tap";
import {
  channelPatternRegex,
  checkChannel,
  checkChannelPattern,
  isWildcard,
  patternCovers,
  patternsOverlap,
} from "./channel.ts";
import { compareCursors, formatCursor, parseCursor } from "./cursor.ts";
import { decodeEnvelope, encodeEnvelope, eventId } from "./envelope.ts";
import { packValue } from "../internal/codec/mod.ts";
import { isMember, parsePresenceKey, presenceKey } from "./presence.ts";

t.test("channel syntax", async (t) => {
  for (const ok of ["a", "chat.lobby", "A-b_c.9", Array(16).fill("x").join("."), "x".repeat(200)]) {
    t.ok(checkChannel(ok).ok, ok.slice(0, 40));
  }
  for (
    const bad of [
      "",
      ".a",
      "a.",
      "a..b",
      "a b",
      "a.*",
      "a.>",
      Array(17).fill("x").join("."),
      "x".repeat(201),
      "ä",
      5,
      null,
    ]
  ) {
    t.notOk(checkChannel(bad).ok, String(bad).slice(0, 40));
  }
  t.ok(checkChannelPattern("chat.*").ok);
  t.ok(checkChannelPattern("iot.>").ok);
  t.ok(checkChannelPattern("*.x.>").ok);
  t.notOk(checkChannelPattern("a.>.b").ok, "> only last");
  t.notOk(checkChannelPattern("a.b*").ok, "no partial wildcards");
  t.ok(isWildcard("a.*"));
  t.notOk(isWildcard("a.b"));
});

t.test("cursors order by epoch, then sequence", async (t) => {
  t.equal(formatCursor({ epoch: 1764000000000, seq: 42 }), "1764000000000-42");
  t.same(parseCursor("1764000000000-42"), { epoch: 1764000000000, seq: 42 });
  for (const bad of ["", "1-", "-1", "a-1", "1-2-3", "1.5-2", 12, undefined]) {
    t.equal(parseCursor(bad), undefined, String(bad));
  }
  t.ok(
    compareCursors({ epoch: 1, seq: 100 }, { epoch: 2, seq: 1 }) < 0,
    "a later epoch wins over a larger seq",
  );
  t.ok(compareCursors({ epoch: 2, seq: 5 }, { epoch: 2, seq: 4 }) > 0);
});

t.test("envelopes round-trip and untrusted bytes are checked", async (t) => {
  const env = {
    v: 1 as const,
    id: eventId("pub", "c-1"),
    channel: "a.b",
    ts: 1,
    publisher: "pub",
    data: { x: [1, "y"] },
  };
  t.same(decodeEnvelope(encodeEnvelope(env)), env);
  t.throws(() => decodeEnvelope(new Uint8Array([0x82, 0xa1])), /not msgpack/);
  t.throws(() => decodeEnvelope(packValue("str")), /not a map/);
  t.throws(() => decodeEnvelope(packValue({ ...env, v: 2 })), /version/);
  t.throws(() => decodeEnvelope(packValue({ ...env, id: "nocolon" })), /id/);
  t.throws(() => decodeEnvelope(packValue({ ...env, channel: "a.*" })), /channel/);
  t.throws(() => decodeEnvelope(packValue({ ...env, publisher: "a:b" })), /publisher/);
});

t.test("pattern regexes match what NATS subject filters match", async (t) => {
  const cases: Array<[string, string[], string[]]> = [
    ["chat.lobby", ["chat.lobby"], ["chat.lobby2", "chat.lobby.x", "chat", "xchat.lobby"]],
    ["chat.*", ["chat.lobby", "chat.a_b-c"], ["chat", "chat.a.b", "chats.a", "x.chat.a"]],
    ["iot.>", ["iot.a", "iot.a.b.c"], ["iot", "iota.b", "x.iot.a"]],
    ["*.x.>", ["a.x.b", "b.x.c.d"], ["a.x", "x.b", "a.y.b"]],
    ["a_b.*", ["a_b.c"], ["aXb.c"]],
  ];
  for (const [pattern, yes, no] of cases) {
    const re = new RegExp(channelPatternRegex(pattern));
    for (const c of yes) t.ok(re.test(c), `${pattern} matches ${c}`);
    for (const c of no) t.notOk(re.test(c), `${pattern} does not match ${c}`);
  }
  t.throws(() => channelPatternRegex("a.(b)"), /not valid/);
});

t.test("presence keys split back into channel, member and session", async (t) => {
  const e = { channel: "chat.room-1.x", member: "alice_2", session: "n1-7" };
  t.equal(presenceKey(e), "chat.room-1.x.alice_2.n1-7");
  t.same(parsePresenceKey(presenceKey(e)), e);
  t.same(parsePresenceKey("c.m.s"), { channel: "c", member: "m", session: "s" });
  t.equal(parsePresenceKey("m.s"), undefined);
  t.ok(isMember("Bob-1"));
  for (const bad of ["", "a.b", "a b", "x".repeat(65), 3]) t.notOk(isMember(bad), String(bad));
});

t.test("patternCovers: a grant covers a pattern only when it matches every channel the pattern does", async (t) => {
  const yes: Array<[string, string]> = [
    ["chat.room1", "chat.room1"],
    ["chat.*", "chat.room1"],
    ["chat.*", "chat.*"],
    ["chat.>", "chat.room1"],
    ["chat.>", "chat.*.x"],
    ["chat.>", "chat.>"],
    [">", ">"],
    [">", "a.b.c"],
    ["*.b", "a.b"],
    ["*.>", "a.>"],
  ];
  const no: Array<[string, string]> = [
    ["chat.*", ">"],
    ["chat.*", "chat.>"],
    ["chat.*", "chat.a.b"],
    ["chat.room1", "chat.*"],
    ["chat.room1", "chat.room2"],
    ["chat.>", "chat"],
    ["chat.>", ">"],
    ["chat.a", "chat"],
    ["chat", "chat.a"],
    ["*", "a.b"],
    ["*.b", "*.c"],
  ];
  for (const [g, p] of yes) t.ok(patternCovers(g, p), `${g} covers ${p}`);
  for (const [g, p] of no) t.notOk(patternCovers(g, p), `${g} does not cover ${p}`);
});

t.test("patternsOverlap: some channel matches both", async (t) => {
  for (
    const [a, b] of [["chat.>", "chat.admin.x"], ["chat.*", "*.x"], [">", "a"], ["a.>", "*.b.>"], [
      "a.b",
      "a.b",
    ], ["user.*.>", "user.alice.>"]]
  ) {
    t.ok(patternsOverlap(a, b), `${a} ∩ ${b}`);
    t.ok(patternsOverlap(b, a), `${b} ∩ ${a}`);
  }
  for (
    const [a, b] of [["chat.>", "chat"], ["chat.*", "chat.a.b"], ["a.b", "a.c"], [
      "admin.>",
      "chat.>",
    ], ["a.*", "a"]]
  ) {
    t.notOk(patternsOverlap(a, b), `${a} ∩ ${b} is empty`);
    t.notOk(patternsOverlap(b, a), `${b} ∩ ${a} is empty`);
  }
});
