import t from "tap";
import { centrifugoConfig, channelOf } from "./peers/centrifugo.ts";
import { peersTable } from "./peers/report.ts";
import { cpuUsPerDelivery, type PeersResult } from "./phases/peers.ts";
import { protocol } from "./workers/protocols.ts";

const buf = (s: string) => Buffer.from(s, "utf8");

t.test("Centrifugo frames: pushes and replies one a line, pings answered", async (t) => {
  const p = protocol("centrifugo");
  const data = '{"r":"x","c":0,"n":7,"t":12.5,"p":""}';
  const push = `{"push":{"channel":"bench:a","pub":{"data":${data},"offset":3}}}`;
  t.same(p.scan(buf(`${push}\n${push}\n${push}`)), { events: 3, acks: 0, errors: 0 });
  t.same(p.scan(buf('{"id":9,"publish":{}}\n{"id":10,"error":{"code":103,"message":"x"}}')), {
    events: 0,
    acks: 1,
    errors: 1,
  });
  t.same(p.scan(buf("{}")), { events: 0, acks: 0, errors: 0, pong: "{}" });
  t.same(p.parse(buf(`${push}\n{"id":4,"publish":{}}`)), [{
    channel: "bench:a",
    data: { r: "x", c: 0, n: 7, t: 12.5, p: "" },
  }]);
  t.equal(
    p.publish("bench:a", 0, "e-0", data),
    `{"id":2,"publish":{"channel":"bench:a","data":${data}}}`,
  );
  t.same(JSON.parse(p.hello!("tok")), { id: 1, connect: { token: "tok", name: "jetmesh-bench" } });
  t.equal(p.helloDone!('{"id":1,"connect":{"client":"c","version":"6.9.1"}}'), true);
  t.equal(p.helloDone!('{"id":1,"error":{"code":109,"message":"token expired"}}'), false);
  t.equal(p.subscribed('{"id":3,"subscribe":{"recoverable":true}}', 1), true);
  t.equal(p.subscribed('{"id":3,"error":{"code":103}}', 1), false);
  t.equal(p.subscribed('{"id":2,"subscribe":{}}', 1), undefined, "another subscription's answer");
  t.equal(channelOf("fan.x"), "bench:fan.x");
});

t.test("Socket.IO frames: Engine.IO ping, events, acks", async (t) => {
  const p = protocol("socketio");
  t.equal(p.url("ws://h/socket.io/", undefined), "ws://h/socket.io/?EIO=4&transport=websocket");
  t.same(p.scan(buf("2")), { events: 0, acks: 0, errors: 0, pong: "3" });
  t.same(p.scan(buf('42["event",{"channel":"a","data":{}}]')), { events: 1, acks: 0, errors: 0 });
  t.same(p.scan(buf("431[]")), { events: 0, acks: 1, errors: 0 });
  t.same(p.parse(buf('42["event",{"channel":"a","data":{"n":1}}]')), [{
    channel: "a",
    data: { n: 1 },
  }]);
  t.equal(p.subscribe("a", 0), '421["sub","a"]', "ack ids start at 1");
  t.equal(p.subscribed("431[]", 0), true);
  t.equal(p.subscribed("4310[]", 0), undefined, "ack 10 is not ack 1");
  t.equal(p.helloDone!('0{"sid":"x"}'), undefined, "the open packet is not the connect answer");
  t.equal(p.helloDone!('40{"sid":"y"}'), true);
  t.equal(p.publish("a", 4, "e", "{}"), '425["pub",{"channel":"a","data":{}}]');
});

t.test("jetmesh frames keep the fan-out's cheap prefix checks", async (t) => {
  const p = protocol(undefined);
  t.same(p.scan(buf('{"op":"event","channel":"a","data":{}}')), { events: 1, acks: 0, errors: 0 });
  t.same(p.scan(buf('{"op":"ack","id":"x","seq":1}')), { events: 0, acks: 1, errors: 0 });
  t.same(p.scan(buf('{"op":"error","code":"forbidden"}')), { events: 0, acks: 0, errors: 1 });
  t.equal(p.url("ws://h/v1/ws", "tok"), "ws://h/v1/ws?token=tok");
  t.equal(p.subscribed('{"op":"event","channel":"a"}', 0), undefined, "a replayed event");
  t.throws(() => protocol("mqtt"), /unknown protocol/);
});

t.test("Centrifugo config: tokens, history and recovery in the bench namespace", async (t) => {
  const c = centrifugoConfig({ port: 8123, secret: "s3cret", apiKey: "k" }) as {
    client: { token: { hmac_secret_key: string }; insecure?: boolean };
    http_server: { address: string; port: number };
    channel: { namespaces: Array<Record<string, unknown>> };
  };
  t.equal(c.client.token.hmac_secret_key, "s3cret");
  t.equal(c.client.insecure, undefined, "never insecure: clients present a JWT");
  t.same(c.http_server, { address: "127.0.0.1", port: 8123 }, "loopback only");
  t.match(c, { debug: { enabled: true } }, "pprof, for the idle ramp's forced collections");
  t.match(c.channel.namespaces[0], {
    name: "bench",
    history_size: Number,
    history_ttl: "300s",
    force_recovery: true,
  });
});

t.test("CPU per delivery, and the table with guarantees and not-run rows", async (t) => {
  t.equal(cpuUsPerDelivery({ a: 0.5, b: 0.25 }, 75_000), 10, "0.75 cores at 75k/s is 10 µs");
  t.ok(Number.isNaN(cpuUsPerDelivery({ a: 1 }, 0)));
  const result: PeersResult = {
    fanoutSubscribers: 1000,
    latencyChannels: 64,
    rows: [
      {
        key: "jetmesh",
        label: "jetmesh",
        guarantees: "persisted; exactly once",
        fanout: {
          deliveriesPerSec: 100_000,
          cores: { notify: 0.5 },
          cpuUsPerDelivery: 5,
          errors: 0,
        },
        latency: [{ rate: 1000, p50: 2, p99: 8, samples: 100, sent: 100, errors: 0 }],
        idle: { bytesPerConnection: 2048, connections: 5000, failed: 0, source: "idle phase" },
      },
      {
        key: "sio-ws",
        label: "Socket.IO 4 (ws)",
        guarantees: "nothing stored",
        fanout: { deliveriesPerSec: 50_000, cores: { sio: 1 }, cpuUsPerDelivery: 20, errors: 0 },
        latency: [{
          rate: 1000,
          p50: 1,
          p99: 4,
          samples: 100,
          sent: 100,
          errors: 2,
          firstError: "x",
        }],
        idle: { bytesPerConnection: 20480, connections: 5000, failed: 0 },
      },
      {
        key: "centrifugo",
        label: "Centrifugo v6",
        guarantees: "memory",
        notRun: "no binary",
        latency: [],
      },
    ],
  };
  const text = peersTable(result, [1000, 5000]).join("\n");
  t.match(
    text,
    "| jetmesh | 5.0 µs — cores: notify 0.50 | 100.0k/s | 2.00 ms / 8.00 ms | n/a | 2.00 KiB |",
  );
  t.match(text, "| Socket.IO 4 (ws) | 20 µs (4.00× jetmesh's)");
  t.match(text, "20.00 KiB (10.00× jetmesh's) | nothing stored |");
  t.match(text, "| Centrifugo v6 | not run: no binary |");
  t.match(text, "Socket.IO 4 (ws): @ 1.00k/s 2 errors (first: x).");
  t.match(text, "jetmesh's idle figure: idle phase.");
});
