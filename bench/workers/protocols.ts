/**
 * The wire protocols the load generator speaks, so one generator (the same `ws` client, the same
 * pacing and counting) drives jetmesh and its peers: a figure then differs by the server, not by
 * the client. Socket.IO is spoken raw (Engine.IO v4 frames) instead of through socket.io-client,
 * whose parser, ack bookkeeping and timers would cost the client several times what `ws` does
 * and make the generator, not the server, the bound sooner than for the others.
 *
 * Pure functions of frames: bench/peers.test.ts checks them.
 */

export type ProtocolName = "jetmesh" | "centrifugo" | "socketio";

/** What one received frame means to a subscriber or a publisher. */
export interface Frame {
  /** Events delivered in it (Centrifugo batches several pushes into one frame, one a line). */
  events: number;
  acks: number;
  errors: number;
  /** A frame to answer with at once: the protocols' application-level pong. */
  pong?: string;
}

export interface Protocol {
  name: ProtocolName;
  /** The URL a connection opens (jetmesh takes its token in the query). */
  url(base: string, token: string | undefined): string;
  /** Sent right after the upgrade; its answer ends the handshake (none for jetmesh). */
  hello?(token: string | undefined): string;
  /** Whether `text` answers the hello: true, false (refused: throws), undefined (not yet). */
  helloDone?(text: string): boolean | undefined;
  subscribe(channel: string, id: number): string;
  /** Whether `text` answers subscription `id`: true, false (refused), undefined (another frame). */
  subscribed(text: string, id: number): boolean | undefined;
  publish(channel: string, id: number, eventId: string, data: string): string;
  /** Counts what a frame holds without parsing its JSON (the fan-out's client counts only). */
  scan(d: Buffer): Frame;
  /** The events of a frame with their channel and data, for order and latency checks. */
  parse(d: Buffer): Array<{ channel: string; data: unknown }>;
}

const withQuery = (url: string, q: string) => `${url}${url.includes("?") ? "&" : "?"}${q}`;

const jetmesh: Protocol = {
  name: "jetmesh",
  url: (base, token) => (token === undefined ? base : withQuery(base, `token=${token}`)),
  subscribe: (channel) => JSON.stringify({ op: "sub", channel }),
  subscribed: (text) => {
    const f = JSON.parse(text) as { op?: string };
    return f.op === "event" ? undefined : f.op === "subscribed";
  },
  publish: (channel, _id, eventId, data) =>
    `{"op":"pub","id":"${eventId}","channel":"${channel}","data":${data}}`,
  scan: (d) => {
    if (d.toString("latin1", 0, 14) === '{"op":"event",') return { events: 1, acks: 0, errors: 0 };
    // An ack is {"op":"ack",…}; anything else is an error frame.
    const ack = d.toString("latin1", 0, 12) === '{"op":"ack",';
    return { events: 0, acks: ack ? 1 : 0, errors: ack ? 0 : 1 };
  },
  parse: (d) => {
    const f = JSON.parse(d.toString("utf8")) as { op: string; channel: string; data: unknown };
    return f.op === "event" ? [{ channel: f.channel, data: f.data }] : [];
  },
};

/** Lines of a Centrifugo JSON frame: replies and pushes, batched one a line. */
function lines(d: Buffer): string[] {
  return d.toString("utf8").split("\n").filter((l) => l !== "");
}

const PUSH = '{"push":';

const centrifugo: Protocol = {
  name: "centrifugo",
  url: (base) => base,
  hello: (token) => JSON.stringify({ id: 1, connect: { token, name: "jetmesh-bench" } }),
  helloDone: (text) => {
    const f = JSON.parse(text.split("\n")[0]) as { id?: number; connect?: unknown };
    return f.id === 1 ? f.connect !== undefined : undefined;
  },
  // Ids 1 (connect) and up are the connection's; subscriptions take 2, 3, …
  subscribe: (channel, id) => JSON.stringify({ id: id + 2, subscribe: { channel } }),
  subscribed: (text, id) => {
    for (const l of text.split("\n")) {
      if (l === "") continue;
      const f = JSON.parse(l) as { id?: number; subscribe?: unknown };
      if (f.id === id + 2) return f.subscribe !== undefined;
    }
    return undefined;
  },
  publish: (channel, id, _eventId, data) =>
    `{"id":${id + 2},"publish":{"channel":"${channel}","data":${data}}}`,
  scan: (d) => {
    const out: Frame = { events: 0, acks: 0, errors: 0 };
    // One reply or push a line: counting lines by their first bytes keeps JSON.parse off the
    // counting path, as for the other protocols.
    let start = 0;
    while (start < d.length) {
      let end = d.indexOf(10, start);
      if (end < 0) end = d.length;
      if (end - start === 2 && d[start] === 0x7b && d[start + 1] === 0x7d) out.pong = "{}";
      else if (end > start) {
        const head = d.toString("latin1", start, Math.min(end, start + 40));
        if (head.startsWith(PUSH)) out.events++;
        else if (head.includes('"error":')) out.errors++;
        else out.acks++;
      }
      start = end + 1;
    }
    return out;
  },
  parse: (d) =>
    lines(d).filter((l) => l.startsWith(PUSH)).map((l) => {
      const f = JSON.parse(l) as { push: { channel: string; pub?: { data: unknown } } };
      return { channel: f.push.channel, data: f.push.pub?.data };
    }).filter((e) => e.data !== undefined),
};

/**
 * Engine.IO 4 over WebSocket: "0{…}" open, "2"/"3" ping/pong, "4…" a Socket.IO packet, whose
 * "0" is a namespace connect, "2" an event and "3" an ack, each optionally followed by an ack id.
 */
const socketio: Protocol = {
  name: "socketio",
  url: (base) => withQuery(base, "EIO=4&transport=websocket"),
  hello: () => "40",
  helloDone: (text) => (text.startsWith("40") ? true : text.startsWith("44") ? false : undefined),
  // Ack ids start at 1: the server's parser reads the digits after the type as the id.
  subscribe: (channel, id) => `42${id + 1}${JSON.stringify(["sub", channel])}`,
  subscribed: (text, id) => (text.startsWith(`43${id + 1}[`) ? true : undefined),
  publish: (channel, id, _eventId, data) =>
    `42${id + 1}["pub",{"channel":"${channel}","data":${data}}]`,
  scan: (d) => {
    if (d.length === 1 && d[0] === 0x32) return { events: 0, acks: 0, errors: 0, pong: "3" };
    if (d[0] === 0x34 && d[1] === 0x32) return { events: 1, acks: 0, errors: 0 };
    if (d[0] === 0x34 && d[1] === 0x33) return { events: 0, acks: 1, errors: 0 };
    return { events: 0, acks: 0, errors: 1 };
  },
  parse: (d) => {
    const text = d.toString("utf8");
    if (!text.startsWith("42")) return [];
    const [name, body] = JSON.parse(text.slice(2)) as [string, { channel: string; data: unknown }];
    return name === "event" ? [{ channel: body.channel, data: body.data }] : [];
  },
};

export const PROTOCOLS: Record<ProtocolName, Protocol> = { jetmesh, centrifugo, socketio };

export function protocol(name: string | undefined): Protocol {
  const p = PROTOCOLS[(name ?? "jetmesh") as ProtocolName];
  if (!p) throw new Error(`unknown protocol ${name}`);
  return p;
}
