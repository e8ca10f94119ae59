import t from "tap";
import { Follower } from "./follower.ts";
import { startStack } from "../../devkit/in-process-stack.ts";
import { events, Traffic } from "./traffic.ts";
import { isMarker, publishMarkers, TestClient, waitFor } from "../../devkit/test-client.ts";

const CHANNELS = ["chat.a", "chat.b", "iot.x.y", "iot.z", "chat.a.deep", "other"];
const PATTERNS: Record<string, (c: string) => boolean> = {
  "chat.*": (c) => /^chat\.[^.]+$/.test(c),
  "iot.>": (c) => c.startsWith("iot."),
};

t.test("wildcard subscriptions give each channel the same sequence a subscription to that channel gets", async (t) => {
  const stack = await startStack();
  t.teardown(stack.stop);
  const concrete = new Map(CHANNELS.map((c) => [c, new Follower(stack.notifyWs, c)]));
  const patterns = new Map(Object.keys(PATTERNS).map((p) => [p, new Follower(stack.notifyWs, p)]));
  t.teardown(() => [...concrete.values(), ...patterns.values()].forEach((f) => f.stop()));
  for (const f of [...concrete.values(), ...patterns.values()]) {
    while (f.last === undefined) await new Promise((r) => setTimeout(r, 20));
  }

  // Three publishers on overlapping channels, concurrently.
  const publishers = await Promise.all([
    Traffic.start(stack.ingestWs, "p1", ["chat.a", "iot.x.y", "other"], 2),
    Traffic.start(stack.ingestWs, "p2", ["chat.a", "chat.b", "iot.z"], 2),
    Traffic.start(stack.ingestWs, "p3", ["iot.x.y", "chat.a.deep", "chat.b"], 2),
  ]);
  // A pattern subscriber that leaves halfway and resumes by cursor.
  const leaver = await TestClient.open(stack.notifyWs);
  leaver.sendJson({ op: "sub", channel: "chat.*" });
  await leaver.until((fs) => fs.filter((f) => f.op === "event").length >= 200, 20_000, "events");
  await leaver.close();
  await new Promise((r) => setTimeout(r, 300));
  const back = await TestClient.open(stack.notifyWs);
  t.teardown(() => back.close());
  back.sendJson({ op: "sub", channel: "chat.*", after: events(leaver).at(-1)!.cursor });

  await new Promise((r) => setTimeout(r, 1500));
  await Promise.all(publishers.map((p) => p.stop()));
  const published = new Map(
    CHANNELS.map((c) => [c, publishers.flatMap((p) => p.ids((x) => x === c))]),
  );
  for (const c of CHANNELS) await concrete.get(c)!.until(published.get(c)!.length);
  // One marker per channel, published last, ends every wait below: each follower holds the
  // markers of its channels only once everything before them has arrived (order per channel),
  // and a late duplicate would arrive before them. No fixed pause a duplicate could outlast.
  const markers = new Map(
    (await publishMarkers(stack.ingestWs, CHANNELS)).map((id, i) => [CHANNELS[i], id]),
  );
  const through = (f: Follower, channels: string[], what: string) =>
    waitFor(`${what}: the markers`, () => channels.every((c) => f.ids.includes(markers.get(c)!)));
  const real = (ids: string[]) => ids.filter((id) => !isMarker(id));
  for (const c of CHANNELS) await through(concrete.get(c)!, [c], c);

  for (const [pattern, match] of Object.entries(PATTERNS)) {
    const f = patterns.get(pattern)!;
    const expected = CHANNELS.filter(match).reduce((n, c) => n + published.get(c)!.length, 0);
    await through(f, CHANNELS.filter(match), pattern);
    t.equal(
      real(f.ids).length,
      expected,
      `${pattern}: ${expected} events, nothing from other channels`,
    );
    for (const c of CHANNELS.filter(match)) {
      const seen = f.ids.filter((id) => concrete.get(c)!.ids.includes(id));
      t.same(
        seen,
        concrete.get(c)!.ids,
        `${pattern} delivers ${c} exactly as a subscription to ${c} does`,
      );
    }
    t.equal(f.repeats, 0, `${pattern}: no event at or before a cursor already seen`);
  }
  for (const c of CHANNELS) {
    const ids = real(concrete.get(c)!.ids);
    t.equal(concrete.get(c)!.repeats, 0, `${c}: no event at or before a cursor already seen`);
    t.same([...ids].sort(), [...published.get(c)!].sort(), `${c}: every published event once`);
    for (const p of publishers) {
      const own = p.ids((x) => x === c);
      if (own.length > 0) {
        t.same(
          ids.filter((id) => own.includes(id)),
          own,
          `${c}: ${own[0].split(":")[0]}'s events in publish order`,
        );
      }
    }
  }

  // The leaver subscribed live after publishing began: it owes everything from its first event on.
  const all = real(patterns.get("chat.*")!.ids);
  const owed = all.slice(all.indexOf(events(leaver)[0].id as string));
  await back.until(
    (fs) => events(leaver).length + fs.filter((f) => f.op === "event").length >= owed.length,
    20_000,
    "resumed",
  );
  for (const c of CHANNELS.filter(PATTERNS["chat.*"])) {
    await back.next((f) => f.op === "event" && f.id === markers.get(c), 0, 20_000);
  }
  t.same(
    [...events(leaver), ...events(back)].map((f) => f.id),
    owed,
    "leaving and resuming by cursor on a pattern: no gap, no duplicate",
  );
});
