import t, { type Test } from "tap";
import { parse } from "yaml";
import { NamespacesError, parseNamespaces } from "./parse.ts";
import { DEFAULT_CONNECTIONS, DEFAULT_LIMITS } from "./types.ts";

/** The problems of a file that should be refused; fails the test when it is accepted. */
function problems(t: Test, value: unknown): string[] {
  try {
    parseNamespaces(value);
  } catch (err) {
    t.type(err, NamespacesError);
    return (err as NamespacesError).problems;
  }
  t.fail("accepted");
  return [];
}

t.test("no file: no namespaces, the built-in defaults", async (t) => {
  t.same(parseNamespaces(undefined), {
    namespaces: [],
    defaults: DEFAULT_LIMITS,
    connections: DEFAULT_CONNECTIONS,
  });
  t.same(parseNamespaces(null), parseNamespaces({}), "an empty YAML document");
});

t.test("a file with every feature", async (t) => {
  const cfg = parseNamespaces(parse(`
defaults:
  maxPayloadBytes: 32768
  publishRate: { perSecond: 100, burst: 150 }
  commandRate: { perSecond: 20 }
  replay: { maxAge: 12h, eventsPerSecond: 1000 }
connections: { perAddress: 50, perIdentity: 5 }
namespaces:
  - name: admin
    channels: admin.>
    publish: { claim: role, equals: admin }
    subscribe: [{ claim: role, in: [admin, ops] }, { claim: staff, equals: true }]
  - name: personal
    channels: user.{sub}.>
    publish: authenticated
    subscribe: authenticated
    history: authenticated
    presence: nobody
  - name: chat
    channels: chat.*
    subscribe: anonymous
    limits:
      maxPayloadBytes: 4096
      publishRate: { perSecond: 5 }
      replay: { maxAge: 1h }
`));
  t.same(cfg.connections, { perAddress: 50, perIdentity: 5 });
  t.same(cfg.defaults, {
    maxPayloadBytes: 32768,
    publishRate: { perSecond: 100, burst: 150 },
    commandRate: { perSecond: 20, burst: 40 },
    replay: { maxAgeMs: 12 * 3_600_000, eventsPerSecond: 1000 },
  });
  t.same(cfg.namespaces.map((n) => [n.name, n.channels]), [["admin", "admin.>"], [
    "personal",
    "user.{sub}.>",
  ], ["chat", "chat.*"]]);
  const [admin, personal, chat] = cfg.namespaces;
  t.same(admin.access, {
    publish: [{ claim: "role", equals: "admin" }],
    subscribe: [{ claim: "role", in: ["admin", "ops"] }, { claim: "staff", equals: true }],
    history: ["nobody"],
    presence: ["nobody"],
  }, "an action not listed is open to nobody (token grants only)");
  t.same(admin.limits, cfg.defaults, "a namespace without limits has the file's defaults");
  t.same(personal.access, {
    publish: ["authenticated"],
    subscribe: ["authenticated"],
    history: ["authenticated"],
    presence: ["nobody"],
  });
  t.same(chat.limits, {
    maxPayloadBytes: 4096,
    publishRate: { perSecond: 5, burst: 10 },
    commandRate: { perSecond: 20, burst: 40 },
    replay: { maxAgeMs: 3_600_000, eventsPerSecond: 1000 },
  }, "limits given override the defaults one by one; a burst defaults to twice the rate");
});

t.test("every problem is listed with its path", async (t) => {
  const list = problems(t, {
    defaults: {
      maxPayloadBytes: 0,
      publishRate: { perSecond: 1.5 },
      replay: { maxAge: "500ms", eventsPerSecond: -1 },
    },
    connections: { perAddress: "many" },
    namespaces: [
      { name: "bad name", channels: "chat..x", publish: "everyone" },
      {
        name: "ok",
        channels: 5,
        subscribe: [{ claim: "role" }, { claim: "role", equals: "a", in: ["b"] }],
        limits: { commandRate: { burst: 0 } },
      },
      { name: "wild", channels: "a.>.b", history: { claim: "", equals: "x" } },
      "not a mapping",
      null,
    ],
  });
  t.same(list, [
    "defaults.maxPayloadBytes: must be an integer from 1 to 67108864",
    "defaults.publishRate.perSecond: must be an integer from 1 to 10000000",
    'defaults.replay.maxAge: must be a duration of at least 1s such as "30s", "1h" or "7d"',
    "defaults.replay.eventsPerSecond: must be an integer from 1 to 10000000",
    "namespaces[0].name: must match [A-Za-z0-9_-]{1,64}",
    "namespaces[0].publish: must be nobody, anonymous, authenticated, {claim: NAME, equals: VALUE} or {claim: NAME, in: [VALUES]}",
    'namespaces[0].channels: channel token "" must match [A-Za-z0-9_-]+',
    "namespaces[1].subscribe[0]: must be nobody, anonymous, authenticated, {claim: NAME, equals: VALUE} or {claim: NAME, in: [VALUES]}",
    "namespaces[1].subscribe[1]: must be nobody, anonymous, authenticated, {claim: NAME, equals: VALUE} or {claim: NAME, in: [VALUES]}",
    'namespaces[1].channels: must be a channel pattern such as "chat.>" or "user.{sub}.>"',
    "namespaces[1].limits.commandRate.burst: must be an integer from 1 to 10000000",
    "namespaces[2].history: must be nobody, anonymous, authenticated, {claim: NAME, equals: VALUE} or {claim: NAME, in: [VALUES]}",
    "namespaces[2].channels: '>' may only be the last token",
    "namespaces[3]: must be a mapping",
    "namespaces[4]: must be a mapping",
    "connections.perAddress: must be an integer from 1 to 10000000",
  ]);
});

t.test("unknown keys are problems, at every level", async (t) => {
  const list = problems(t, {
    default: {},
    defaults: { maxPayload: 1, replay: { maxAgeMs: 1 } },
    namespaces: [{
      name: "a",
      channels: "a.>",
      read: "anonymous",
      limits: { publishRate: { perMinute: 5 } },
    }],
  });
  t.same(list.map((l) => l.split(": ")[0]), [
    "(file).default",
    "defaults.maxPayload",
    "defaults.replay.maxAgeMs",
    "namespaces[0].read",
    "namespaces[0].limits.publishRate.perMinute",
  ]);
  t.match(list[0], /expected one of defaults, connections, namespaces/);
});

t.test("names are unique; namespaces must be a list", async (t) => {
  t.same(
    problems(t, {
      namespaces: [{ name: "chat", channels: "chat.>" }, { name: "chat", channels: "room.>" }],
    }),
    [
      "namespaces[1].name: chat is used twice",
    ],
  );
  t.same(problems(t, { namespaces: { chat: { channels: "chat.>" } } }), [
    "namespaces: must be a list",
  ]);
  t.same(problems(t, "chat.>"), ["(file): must be a mapping"]);
});

t.test("{sub} stands for one whole token only", async (t) => {
  t.equal(
    parseNamespaces({ namespaces: [{ name: "u", channels: "user.{sub}.>" }] }).namespaces[0]
      .channels,
    "user.{sub}.>",
  );
  t.equal(
    parseNamespaces({ namespaces: [{ name: "u", channels: "{sub}" }] }).namespaces[0].channels,
    "{sub}",
  );
  for (const bad of ["user.x{sub}.>", "user.{sub}x", "user.{su}.>", "user.{sub.>"]) {
    t.match(problems(t, { namespaces: [{ name: "u", channels: bad }] }), [
      /^namespaces\[0\]\.channels: channel token/,
    ], bad);
  }
});

t.test("processing rules: kept as declared when they compile, every error otherwise", async (t) => {
  const rules = [
    { name: "hot", filter: "temperature > 80", divert: "cool.{$tokens[1]}" },
    { name: "f", transform: '{"f": temperature * 9 / 5 + 32}' },
  ];
  const cfg = parseNamespaces({ namespaces: [{ name: "iot", channels: "iot.>", rules }] });
  t.same(cfg.namespaces[0].rules, rules);
  t.equal(
    parseNamespaces({ namespaces: [{ name: "x", channels: "x.>" }] }).namespaces[0].rules,
    undefined,
  );
  t.same(
    problems(t, {
      namespaces: [{
        name: "iot",
        channels: "iot.>",
        rules: [{ name: "a", filter: "temperature >" }, { name: "b", transform: "$random()" }],
      }],
    }),
    [
      "namespaces[0].rules: namespace iot: rules[0] (a): filter.filter: Unexpected end of expression at 13",
      "namespaces[0].rules: namespace iot: rules[1] (b): transform.transform: $random is not allowed (results must be reproducible on replay)",
    ],
  );
});
