// The nats CLI as a way to look inside a running jetmesh: the real
// .tools/bin/nats (never skipped: a missing binary fails the test with how to
// build it) runs exactly the commands of README "Inspect with the nats CLI"
// against a stack on the shipped single.conf, as the admin user, through a
// context saved the way the README says, and what they print is checked.
import t, { type Test } from "tap";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import { ROOT, toolPath } from "../../infra/tools/tools.ts";
import { packValue } from "../../internal/codec/mod.ts";
import { readNotifyConfig } from "../../internal/notify/config.ts";
import { readRouteConfig } from "../../internal/route/config.ts";
import {
  CONSUMER_DESCRIPTIONS,
  decodeEnvelope,
  EVENTS_STREAM,
  PERSIST_CONSUMER,
  PRESENCE_BUCKET,
  PRESENCE_BUCKET_DESCRIPTION,
  SEEN_BUCKET,
  SEEN_BUCKET_DESCRIPTION,
  STREAM_DESCRIPTIONS,
} from "../../subjects/mod.ts";
import { startStack } from "../../devkit/in-process-stack.ts";
import { SERVICE_NAMES } from "../../devkit/catalog.ts";
import { setNatsPasswords, templateConfig } from "../../devkit/nats-config.ts";
import { startNatsServer } from "../../devkit/nats-server.ts";
import { freePorts } from "../../devkit/ports.ts";

const NATS = ".tools/bin/nats";
/** The README's server; the test puts its own server's URL in its place. */
const README_SERVER = "nats://127.0.0.1:4222";
const SAVE_CONTEXT =
  `${NATS} context save jetmesh-local --server ${README_SERVER} --user admin --password "$JETMESH_NATS_ADMIN_PASSWORD"`;

type Check = (t: Test, out: string) => void;
interface Command {
  line: string;
  check: Check;
}

const has = (t: Test, out: string, want: string, what = want) =>
  t.ok(out.includes(want), what, { found: out });

/**
 * The README section's commands, in its order (the last test below holds
 * the README to this list). Events published: see `publish`.
 */
const COMMANDS: Command[] = [
  {
    line: `${NATS} --context jetmesh-local stream ls`,
    check: (t, out) => {
      for (const [name, description] of Object.entries(STREAM_DESCRIPTIONS)) {
        has(t, out, description, `${name}: ${description}`);
      }
    },
  },
  {
    line: `${NATS} --context jetmesh-local stream info INGEST`,
    check: (t, out) => {
      has(t, out, `Description: ${STREAM_DESCRIPTIONS.INGEST}`);
      has(t, out, "Subjects: ingest.>");
      t.match(out, /Messages: 4\n/, "4 events accepted");
    },
  },
  {
    line: `${NATS} --context jetmesh-local consumer info EVENTS persist`,
    check: (t, out) => {
      has(t, out, `Description: ${CONSUMER_DESCRIPTIONS[PERSIST_CONSUMER]}`);
      t.match(
        out,
        /Acknowledgment Floor: Consumer sequence: 4 Stream sequence: 4/,
        "persist acked all 4 events",
      );
      t.match(out, /Unprocessed Messages: 0\n/, "nothing left for persist");
      t.match(out, /Waiting Pulls: [1-9]/, "persist is pulling");
    },
  },
  {
    line: `${NATS} --context jetmesh-local kv ls`,
    check: (t, out) => {
      has(t, out, `${SEEN_BUCKET} `);
      has(t, out, SEEN_BUCKET_DESCRIPTION);
      has(t, out, `${PRESENCE_BUCKET} `);
      has(t, out, PRESENCE_BUCKET_DESCRIPTION);
    },
  },
  {
    line: `${NATS} --context jetmesh-local stream get EVENTS 1 --translate bin/jetmesh-decode.mjs`,
    check: (t, out) => {
      has(t, out, "on Subject events.chat.lobby");
      has(t, out, "Nats-Msg-Id: alice:m-1");
      t.match(JSON.parse(out.slice(out.indexOf("{"))), {
        channel: "chat.lobby",
        publisher: "alice",
        data: { text: "hello" },
      });
    },
  },
  {
    // Pages interactively, so it needs a terminal: the test gives it one with script(1).
    line: `${NATS} --context jetmesh-local stream view EVENTS --translate bin/jetmesh-decode.mjs`,
    check: (t, out) => {
      for (const id of ["alice:m-1", "alice:m-2", "bob:t-1", "bob:raw-1"]) {
        has(t, out, `"id": "${id}"`);
      }
      has(t, out, `"c": 21.5`);
      has(t, out, `"base64": "AQID"`, "binary data shows as base64");
    },
  },
  {
    line:
      `${NATS} --context jetmesh-local sub 'events.chat.>' --all -T --translate 'bin/jetmesh-decode.mjs --compact'`,
    check: (t, out) => {
      const events = out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
      t.same(events.map((e) => [e.channel, e.data]), [["chat.lobby", { text: "hello" }], [
        "chat.lobby",
        { text: "again" },
      ]]);
    },
  },
];

/** Shell words of a README line: bare words, '…', and "…" with $VARS from `vars`. */
function words(line: string, vars: Record<string, string>): string[] {
  const out: string[] = [];
  for (const m of line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)) {
    out.push(m[1] ?? (m[2] ?? m[3]).replace(/\$([A-Z_]+)/g, (_, v: string) => vars[v] ?? ""));
  }
  return out;
}

const quote = (w: string) => /^[\w./:=@-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;

interface Ran {
  code: number | null;
  out: string;
}

/**
 * Runs a README line from the repository root, as the README does, with the nats CLI toolPath
 * finds.
 */
function run(
  line: string,
  vars: Record<string, string>,
  env: NodeJS.ProcessEnv,
  terminal: boolean,
): Promise<Ran> {
  const argv = words(line, vars);
  if (argv[0] === NATS) argv[0] = toolPath("nats");
  // script(1) gives the command a pseudo-terminal; -e: its exit code; /dev/null: no typescript
  // file.
  const [file, args] = terminal
    ? ["script", ["-qec", argv.map(quote).join(" "), "/dev/null"]]
    : [argv[0], argv.slice(1)];
  return new Promise((resolve, reject) => {
    const p = spawn(file, args, {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 60_000,
    });
    let out = "";
    p.stdout.on("data", (b) => (out += b));
    p.stderr.on("data", (b) => (out += b));
    p.on(
      "error",
      (err) =>
        reject(
          terminal
            ? new Error(
              `script(1) gives nats its terminal (apt-get install bsdutils): ${err.message}`,
            )
            : err,
        ),
    );
    p.on("close", (code) => resolve({ code, out: out.replace(/\r\n/g, "\n") }));
  });
}

t.test("the README's nats CLI commands against a running jetmesh", async (t) => {
  const nats = toolPath("nats");
  t.ok(nats, `nats CLI at ${nats}`);
  const passwords = setNatsPasswords();
  const dir = mkdtempSync(join(tmpdir(), "jm-cli-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const [p, m] = await freePorts(2);
  const conf = templateConfig(
    "single.conf",
    dir,
    join(dir, "store"),
    new Map([[4222, p], [8222, m]]),
  );
  const ns = await startNatsServer({
    jetstream: false,
    port: p,
    monitorPort: m,
    args: ["-c", conf],
  });
  t.teardown(() => ns.stop());
  const nc = await connect({ servers: ns.url, user: "admin", pass: passwords.admin });
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  // Buckets from an older jetmesh, with the TTLs the services use: the migration brings
  // their descriptions up to date (kv ls below).
  const ttls = {
    [SEEN_BUCKET]: readRouteConfig({}).dedupeTtlMs,
    [PRESENCE_BUCKET]: readNotifyConfig({ JETMESH_AUTH: "none" }).presenceTtlMs,
  };
  for (const [bucket, ttl] of Object.entries(ttls)) {
    await new Kvm(nc).create(bucket, {
      history: 1,
      ttl,
      description: "jetmesh: an older description",
    });
  }

  const serviceEnv = Object.fromEntries(
    SERVICE_NAMES.map((s) => [s, { NATS_USER: s, NATS_PASSWORD: passwords[s] }]),
  );
  const stack = await startStack({}, {
    nats: ns,
    serviceEnv,
    admin: { user: "admin", pass: passwords.admin },
  });
  t.teardown(stack.stop);
  const until = async (what: string, ok: () => Promise<boolean>) => {
    for (const end = Date.now() + 20_000; !(await ok());) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const publish = async (
    publisher: string,
    body: RequestInit["body"],
    type = "application/json",
  ) => {
    const res = await fetch(`${stack.ingestHttp}/v1/publish?publisher=${publisher}`, {
      method: "POST",
      headers: { "content-type": type },
      body,
    });
    t.equal(res.status, 200, `published as ${publisher}`, { body: await res.text() });
  };
  // The first event alone, so that it is EVENTS sequence 1 whatever route does with the
  // others' channels.
  await publish(
    "alice",
    JSON.stringify({ id: "m-1", channel: "chat.lobby", data: { text: "hello" } }),
  );
  await until(
    "the first event on EVENTS",
    async () => (await jsm.streams.info(EVENTS_STREAM)).state.messages === 1,
  );
  await publish(
    "alice",
    JSON.stringify({ id: "m-2", channel: "chat.lobby", data: { text: "again" } }),
  );
  await publish(
    "bob",
    JSON.stringify({ id: "t-1", channel: "iot.sensor-7.temp", data: { c: 21.5 } }),
  );
  // A msgpack publisher may put bytes in data; JSON has none, so the decoder shows them as base64.
  await publish(
    "bob",
    Buffer.from(
      packValue({ id: "raw-1", channel: "iot.sensor-7.raw", data: new Uint8Array([1, 2, 3]) }),
    ),
    "application/msgpack",
  );
  await until("persist to ack all 4", async () => {
    const ci = await jsm.consumers.info(EVENTS_STREAM, PERSIST_CONSUMER);
    return ci.ack_floor.stream_seq === 4 && ci.num_pending === 0 && ci.num_ack_pending === 0;
  });

  // The developer's own contexts stay untouched: the CLI keeps contexts under
  // $XDG_CONFIG_HOME/nats.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    XDG_CONFIG_HOME: join(dir, "config"),
    TERM: "dumb",
  };
  // No NATS_* variables overriding the context. (tap puts its NODE_OPTIONS back into every
  // child's environment, so the decoder runs under tap's loaders here: one more reason it is .mjs.)
  for (const k of Object.keys(env)) if (k.startsWith("NATS_")) delete env[k];
  const vars = { JETMESH_NATS_ADMIN_PASSWORD: passwords.admin };
  const saved = await run(SAVE_CONTEXT.replace(README_SERVER, ns.url), vars, env, false);
  t.equal(saved.code, 0, "context saved", { out: saved.out });
  t.match(saved.out, `Server URLs: ${ns.url}`);

  for (const c of COMMANDS) {
    const r = await run(c.line, vars, env, c.line.includes(" stream view "));
    if (process.env.JETMESH_TEST_LOG) console.error(`$ ${c.line}\n${r.out}`);
    await t.test(c.line.slice(NATS.length + 1), async (t) => {
      t.equal(r.code, 0, "exit code 0", { out: r.out });
      t.notMatch(r.out, /Error while translating|nats: error/, "no error", { out: r.out });
      c.check(t, r.out);
    });
  }

  // The decoder prints what the services read: the same fields as decodeEnvelope.
  const first = await jsm.streams.getMessage(EVENTS_STREAM, { seq: 1 });
  const decoded = await run(
    `${NATS} --context jetmesh-local stream get EVENTS 1 --translate bin/jetmesh-decode.mjs`,
    vars,
    env,
    false,
  );
  t.same(
    JSON.parse(decoded.out.slice(decoded.out.indexOf("{"))),
    decodeEnvelope(first!.data),
    "decoder agrees with decodeEnvelope",
  );
});

t.test("README 'Inspect with the nats CLI' shows exactly these commands", async (t) => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const start = readme.indexOf("\n## Inspect with the nats CLI\n");
  t.ok(start >= 0, "the section exists");
  const section = readme.slice(start + 1, readme.indexOf("\n## ", start + 1));
  const lines = section.split("\n").filter((l) => l.startsWith(`${NATS} `)).map((l) =>
    l.replace(/\s+#.*$/, "")
  );
  t.same(lines, [SAVE_CONTEXT, ...COMMANDS.map((c) => c.line)]);
});
