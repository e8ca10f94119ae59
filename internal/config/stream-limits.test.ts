// EVENTS' duplicate window is the dedupe horizon route relies on (docs/dedupe.md): its length
// comes from ROUTE_DEDUPE_TTL, and nats-server must still drop a msgID it stored before a
// kill -9 of its own process, within the window, as it rebuilds the window from the stream.
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import t from "tap";
import { startNatsServer } from "../../devkit/nats-server.ts";
import { EVENTS_STREAM, eventsSubject, streamConfigs } from "../../subjects/mod.ts";
import { EnvReader } from "./env.ts";
import { readStreamLimits } from "./common.ts";

function eventsConfig(env: Record<string, string>) {
  const events = streamConfigs(readStreamLimits(new EnvReader(env)))
    .find((c) => c.name === EVENTS_STREAM);
  if (events === undefined) throw new Error("no EVENTS config");
  return events;
}

t.test("EVENTS keeps msgIDs for ROUTE_DEDUPE_TTL, capped by EVENTS_MAX_AGE", async (t) => {
  t.equal(eventsConfig({}).duplicate_window, 3600e9, "1 h by default");
  t.equal(eventsConfig({ ROUTE_DEDUPE_TTL: "2h" }).duplicate_window, 7200e9);
  t.equal(
    eventsConfig({ ROUTE_DEDUPE_TTL: "2h", EVENTS_MAX_AGE: "30m" }).duplicate_window,
    1800e9,
    "never longer than the stream keeps the events",
  );
});

t.test("a msgID EVENTS stored is dropped after a kill -9 of nats-server, within the window, and stored again past it", async (t) => {
  const ns = await startNatsServer({ name: "dedupe-horizon" });
  t.teardown(() => ns.stop());
  const publishTwice = async (env: Record<string, string>, pauseMs: number) => {
    let nc = await connect({ servers: ns.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(EVENTS_STREAM).catch(() => {});
    await jsm.streams.add(eventsConfig(env));
    const first = await jetstream(nc).publish(eventsSubject("c"), "a", { msgID: "p:1" });
    await nc.close();
    ns.kill("SIGKILL");
    await ns.exited();
    await new Promise((r) => setTimeout(r, pauseMs));
    await ns.restart();
    nc = await connect({ servers: ns.url });
    t.teardown(() => nc.close());
    const again = await jetstream(nc).publish(eventsSubject("c"), "a", { msgID: "p:1" });
    return { first, again };
  };
  const within = await publishTwice({}, 0);
  t.equal(within.again.duplicate, true, "the republish is dropped as a duplicate");
  t.equal(within.again.seq, within.first.seq, "and answered with the first copy's sequence");
  const past = await publishTwice({ ROUTE_DEDUPE_TTL: "1s" }, 1500);
  t.equal(past.again.duplicate, false, "past the window the same msgID is stored again");
});
