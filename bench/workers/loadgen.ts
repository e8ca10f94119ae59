/**
 * The load generator: WebSocket publishers and subscribers speaking jetmesh's
 * protocol (the prototype and the raw uWS server speak the same frames). The
 * orchestrator opens a scenario, starts sending, reads counters at the edges
 * of its measurement window and stops; latency samples are publish→deliver in
 * this one process, so both ends read the same clock.
 *
 * Sending is closed-loop (a window of unacked publishes per connection, plus a
 * cap on events in the pipeline, acked or not, that no subscriber has yet) or
 * paced (open-loop at a rate; each event carries its intended send time, so a
 * stall of the generator itself still counts against the latency).
 *
 * Against jetmesh every connection presents the worker's token (`token`,
 * minted once by the orchestrator), as a production client does; the
 * references (prototype, raw uWS) take none. The peers (Centrifugo, Socket.IO)
 * are spoken to in their own protocols (`protocol`, bench/workers/protocols.ts)
 * by the same code, so every system gets the same client.
 */
import WebSocket from "ws";
import { Conn, pongs } from "./conn.ts";
import { type Protocol, protocol } from "./protocols.ts";
import { num, type Progress, serve, str } from "./rpc.ts";

export interface Counters {
  sent: number;
  acked: number;
  errors: number;
  delivered: number;
  /** Events that arrived out of publish order within their channel, or twice. */
  violations: number;
}

/** What `counts` (and `mark`) answer. */
export type Counts = Counters & { firstError?: string };

interface Scenario {
  tag: string;
  proto: Protocol;
  channels: string[];
  publishers: WebSocket[];
  subscribers: WebSocket[];
  /** Subscriptions per channel: an event counts as fully delivered after this many deliveries. */
  fanout: number;
  pad: string;
  c: Counters;
  lastSeen: Map<string, number>;
  samples: number[];
  /** Stretches of intended send times whose events count for latency: [start, end). */
  windows: Array<[number, number]>;
  parse: boolean;
  timer?: NodeJS.Timeout;
  firstError?: string;
  inflight: number[];
  sending: boolean;
  pump?: () => void;
}

/**
 * Open scenarios by name: a phase may keep two open (jetmesh and its reference) and alternate
 * between them.
 */
const scenarios = new Map<string, Scenario>();

const nameOf = (args: Record<string, unknown>) => str(args, "name", "main");

const tokenOf = (args: Record<string, unknown>) =>
  args.token === undefined ? undefined : str(args, "token");

/**
 * Opens publishers and subscribers and waits until every subscription is confirmed.
 * `subscribe: false` opens no subscribers (the stages phase fills a queue with nothing
 * delivered); `after` makes every subscription resume from that cursor.
 */
async function open(args: Record<string, unknown>) {
  const name = nameOf(args);
  if (scenarios.has(name)) throw new Error(`scenario ${name} is already open`);
  const tag = str(args, "tag");
  const channels = args.channels as string[];
  const subsPerChannel = num(args, "subsPerChannel", 1);
  const channelsPerConn = num(args, "channelsPerConn", 50);
  const payloadBytes = num(args, "payloadBytes");
  const s: Scenario = {
    tag,
    proto: protocol(args.protocol as string | undefined),
    channels,
    publishers: [],
    subscribers: [],
    fanout: subsPerChannel,
    // The JSON data is {"r":…,"c":…,"n":…,"t":…,"p":"xxx"}: about 60 bytes besides the pad.
    pad: "x".repeat(Math.max(0, payloadBytes - 60)),
    c: { sent: 0, acked: 0, errors: 0, delivered: 0, violations: 0 },
    lastSeen: new Map(),
    samples: [],
    windows: [],
    parse: args.parse !== false,
    inflight: [],
    sending: false,
  };
  const after = args.after === undefined ? undefined : str(args, "after");
  // Fan-out: every subscriber on every channel; otherwise channels are spread over connections.
  const groups: string[][] = [];
  if (args.subscribe === false) {
    // none
  } else if (subsPerChannel > 1) {
    for (let i = 0; i < subsPerChannel; i++) groups.push(channels);
  } else {
    for (let i = 0; i < channels.length; i += channelsPerConn) {
      groups.push(channels.slice(i, i + channelsPerConn));
    }
  }
  const p = s.proto;
  const token = tokenOf(args);
  const concurrency = 100;
  for (let i = 0; i < groups.length; i += concurrency) {
    await Promise.all(
      groups.slice(i, i + concurrency).map(async (chs) => {
        // One listener from the start: a resumed subscription's replay may come in the same
        // read as its answer, before a listener added after the answer would be.
        const c = await Conn.open(p, str(args, "subscribeUrl"), token, (c, d) => onEvent(s, c, d));
        for (const [k, ch] of chs.entries()) {
          const frame = after === undefined || p.name !== "jetmesh"
            ? p.subscribe(ch, k)
            : JSON.stringify({ op: "sub", channel: ch, after });
          await c.ask(`subscribe ${ch}`, frame, (text) => p.subscribed(text, k));
        }
        s.subscribers.push(c.ws);
      }),
    );
  }
  // Every publisher connection is the same identity (the token's sub), as one busy backend's
  // would be.
  for (let i = 0; i < num(args, "publishers", 1); i++) {
    const k = i;
    const c = await Conn.open(p, str(args, "publishUrl"), token, (c, d) => onAck(s, k, c, d));
    s.inflight.push(0);
    s.publishers.push(c.ws);
  }
  scenarios.set(name, s);
  return { subscribers: s.subscribers.length, publishers: s.publishers.length };
}

function onAck(s: Scenario, k: number, c: Conn, d: Buffer): void {
  const f = s.proto.scan(d);
  if (f.pong !== undefined) c.ws.send(f.pong);
  s.inflight[k] -= f.acks + f.errors;
  s.c.acked += f.acks;
  if (f.errors > 0) {
    s.c.errors += f.errors;
    s.firstError ??= d.toString("utf8").slice(0, 300);
  }
  s.pump?.();
}

type EventData = { r: string; c: number; n: number; t: number };

function onEvent(s: Scenario, c: Conn, d: Buffer): void {
  if (!s.parse) {
    const f = s.proto.scan(d);
    if (f.pong !== undefined) c.ws.send(f.pong);
    s.c.delivered += f.events;
  } else {
    const events = s.proto.parse(d);
    if (events.length === 0) pongs(s.proto)(c, d);
    s.c.delivered += events.length;
    for (const { channel, data } of events as Array<{ channel: string; data: EventData }>) {
      if (data?.r !== s.tag) continue;
      const key = `${data.c}|${channel}`;
      const last = s.lastSeen.get(key);
      if (last !== undefined && data.n <= last) s.c.violations++;
      s.lastSeen.set(key, data.n);
      if (inWindow(s, data.t)) s.samples.push(performance.now() - data.t);
    }
  }
  s.pump?.();
}

function inWindow(s: Scenario, t: number): boolean {
  for (let i = s.windows.length - 1; i >= 0; i--) {
    const [from, to] = s.windows[i];
    if (t >= from && t < to) return true;
  }
  return false;
}

function sendOne(s: Scenario, k: number, intended: number): void {
  const n = s.c.sent++;
  const channel = s.channels[n % s.channels.length];
  s.inflight[k]++;
  s.publishers[k].send(
    s.proto.publish(
      channel,
      n,
      `${s.tag}-${n}`,
      `{"r":"${s.tag}","c":${k},"n":${n},"t":${intended},"p":"${s.pad}"}`,
    ),
  );
}

/** Starts sending: closed-loop (`window`, `backlog`) or paced (`rate`, events per second). */
function run(args: Record<string, unknown>) {
  const s = need(args);
  s.sending = true;
  const rate = args.rate === undefined ? undefined : num(args, "rate");
  if (rate !== undefined) {
    const start = performance.now();
    const base = s.c.sent;
    let k = 0;
    s.timer = setInterval(() => {
      const due = Math.floor(((performance.now() - start) * rate) / 1000);
      while (s.sending && s.c.sent - base < due) {
        sendOne(s, k, start + ((s.c.sent - base) * 1000) / rate);
        k = (k + 1) % s.publishers.length;
      }
    }, 1);
    return null;
  }
  const window = num(args, "window", 256);
  const backlog = num(args, "backlog", 8192);
  s.pump = () => {
    for (let k = 0; k < s.publishers.length; k++) {
      while (
        s.sending && s.inflight[k] < window &&
        s.c.sent * s.fanout - s.c.delivered < backlog * s.fanout
      ) {
        sendOne(s, k, performance.now());
      }
    }
  };
  s.pump();
  return null;
}

function need(args: Record<string, unknown>): Scenario {
  const s = scenarios.get(nameOf(args));
  if (!s) throw new Error(`no scenario ${nameOf(args)} is open`);
  return s;
}

function counts(args: Record<string, unknown>): Counts {
  const s = need(args);
  return { ...s.c, firstError: s.firstError };
}

/** Events sent from now until `halt` count for latency; samples of every marked stretch add up. */
function mark(args: Record<string, unknown>) {
  need(args).windows.push([performance.now(), Infinity]);
  return counts(args);
}

function halt(args: Record<string, unknown>) {
  const s = need(args);
  s.sending = false;
  const w = s.windows[s.windows.length - 1];
  if (w && w[1] === Infinity) w[1] = performance.now();
  clearInterval(s.timer);
  s.pump = undefined;
  return counts(args);
}

/**
 * Waits until every acked event reached every subscriber, or the timeout; returns the counters
 * then.
 */
async function drain(args: Record<string, unknown>, progress: Progress) {
  const s = need(args);
  const deadline = performance.now() + num(args, "timeoutMs", 60_000);
  let last = 0;
  while (performance.now() < deadline) {
    const settled = s.inflight.every((n) => n <= 0);
    if (settled && s.c.delivered >= s.c.acked * s.fanout) break;
    if (performance.now() - last > 1000) {
      last = performance.now();
      progress({ delivered: s.c.delivered, expected: s.c.acked * s.fanout });
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return counts(args);
}

/** Latency samples of every marked stretch so far, unsorted; the orchestrator summarises. */
function samples(args: Record<string, unknown>) {
  return need(args).samples;
}

async function close(args: Record<string, unknown>) {
  const s = scenarios.get(nameOf(args));
  scenarios.delete(nameOf(args));
  if (!s) return null;
  s.sending = false;
  clearInterval(s.timer);
  await Promise.all([...s.publishers, ...s.subscribers].map((ws) =>
    new Promise<void>((resolve) => {
      if (ws.readyState === WebSocket.CLOSED) return resolve();
      ws.once("close", () => resolve());
      ws.close();
      setTimeout(() => {
        ws.terminate();
        resolve();
      }, 2000);
    })
  ));
  return null;
}

/** Idle connections: each opens, subscribes to its own channel, and then stays silent. */
const idle: WebSocket[] = [];

async function idleOpen(args: Record<string, unknown>, progress: Progress) {
  const p = protocol(args.protocol as string | undefined);
  const url = str(args, "url");
  const token = tokenOf(args);
  const count = num(args, "count");
  const first = num(args, "first", 0);
  const prefix = str(args, "channelPrefix");
  const concurrency = num(args, "concurrency", 200);
  const deadline = performance.now() + num(args, "deadlineMs", 600_000);
  let failed = 0;
  let firstError: string | undefined;
  let next = 0;
  let lastReport = 0;
  const start = performance.now();
  const worker = async () => {
    while (next < count && performance.now() < deadline) {
      const i = next++;
      try {
        const c = await Conn.open(p, url, token, pongs(p));
        const ws = c.ws;
        ws.on("error", () => {});
        await c.ask(
          "subscribe",
          p.subscribe(`${prefix}${first + i}`, 0),
          (t) => p.subscribed(t, 0),
        );
        idle.push(ws);
      } catch (err) {
        failed++;
        firstError ??= String(err);
      }
      // Often: the orchestrator pairs these counts with the server's RSS.
      if (performance.now() - lastReport > 200) {
        lastReport = performance.now();
        progress({ open: idle.length, failed });
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { open: idle.length, failed, firstError, ms: performance.now() - start };
}

async function idleClose() {
  for (const ws of idle.splice(0)) ws.terminate();
  return null;
}

// Thousands of sockets each add listeners to shared emitters; that is expected here.
process.setMaxListeners(0);

serve({ open, run, counts, mark, halt, drain, samples, close, idleOpen, idleClose });
