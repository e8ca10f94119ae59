// compose.yaml cannot run here (no container engine): check it instead.
// Every file parses, every service gets what its own config reader needs and
// nothing it does not read, and the pieces agree with each other (NATS users
// and passwords, database credentials, ports, the load balancer, scrape
// targets, dashboard datasource). The nats-server config is checked by
// nats-server itself; nginx's (lb.conf) is read for what compose relies on.
import t from "tap";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { findNatsServer, NatsServerMissingError } from "../../devkit/nats-server.ts";
import { readPins } from "../tools/tools.ts";
import { readMigrateConfig } from "../../internal/migrate/mod.ts";
import {
  MIGRATION_SETTINGS,
  readServiceConfig,
  readTracked,
  usersConf,
} from "../../devkit/service-config.ts";
import { SERVICE_NAMES } from "../../devkit/catalog.ts";
import type { EdgeConfig } from "../../internal/edge/mod.ts";
import { loadNamespaces } from "../../internal/namespaces/mod.ts";

const here = new URL(".", import.meta.url).pathname;
const file = (p: string) => readFileSync(join(here, p), "utf8");

/** The values a user puts in .env, from .env.example. */
const dotenv: Record<string, string> = Object.fromEntries(
  file(".env.example").split("\n").filter((l) => /^[A-Z_]+=/.test(l)).map((l) =>
    l.split("=", 2) as [string, string]
  ),
);

/** Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR:?error}. */
function interpolate(value: unknown, env = dotenv): string {
  return String(value).replace(
    /\$\{(\w+)(?::([-?])([^}]*))?\}/g,
    (_, name: string, op?: string, arg?: string) => {
      const v = env[name];
      if (v !== undefined && v !== "") return v;
      if (op === "-") return arg ?? "";
      throw new Error(`${name} is required (${arg}) and .env.example does not set it`);
    },
  );
}

interface ComposeService {
  image?: string;
  environment?: Record<string, unknown>;
  ports?: string[];
  volumes?: string[];
  command?: string[];
  healthcheck?: { test: string[] };
  depends_on?: unknown;
  deploy?: { replicas?: number };
}

const compose = parse(file("compose.yaml"), { merge: true }) as {
  services: Record<string, ComposeService>;
};

/**
 * A path inside the container as the file on this machine that the service's bind mount puts
 * there.
 */
function mounted(service: string, value: string): string {
  for (const v of compose.services[service].volumes ?? []) {
    const [host, container] = v.split(":");
    if (container === value && host.startsWith(".")) return join(here, host);
  }
  return value;
}
const envOf = (name: string) =>
  Object.fromEntries(
    Object.entries(compose.services[name].environment ?? {}).map((
      [k, v],
    ) => [k, mounted(name, interpolate(v))]),
  );
const users = usersConf(readFileSync(join(here, "../nats/users.conf"), "utf8"));

t.test("every file parses", async (t) => {
  t.ok(compose.services, "compose.yaml");
  for (
    const f of [
      "prometheus.yml",
      "grafana/provisioning/datasources/prometheus.yaml",
      "grafana/provisioning/dashboards/jetmesh.yaml",
    ]
  ) {
    t.ok(parse(file(f)), f);
  }
  t.ok(
    JSON.parse(file("grafana/dashboards/jetmesh.json")).panels.length > 0,
    "grafana/dashboards/jetmesh.json",
  );
  t.same(
    Object.keys(compose.services).sort(),
    [
      "grafana",
      "ingest",
      "jaeger",
      "lb",
      "migrate",
      "nats1",
      "nats2",
      "nats3",
      "notify",
      "persist",
      "postgres",
      "prometheus",
      "route",
    ],
    "the full stack",
  );
});

/**
 * lb.conf's servers: the port each listens on, and the `<service>:<port>` it passes requests to
 * (through a variable, so nginx resolves every replica at run time).
 */
const lbConf = file("lb.conf");
const lbPorts = new Map(
  [
    ...lbConf.matchAll(
      /listen (\d+);\s+location \/ \{[^}]*?set \$(\w+) ([\w-]+:\d+);\s+proxy_pass http:\/\/\$\2;/g,
    ),
  ].map((m) => [Number(m[1]), m[3]]),
);

t.test("lb: nginx publishes exactly the edges' ports, as WebSocket-capable proxies", async (t) => {
  const lb = compose.services.lb;
  t.same(lb.ports, [...lbPorts.keys()].map((p) => `${p}:${p}`), "what it listens on is published");
  t.same([...lbPorts.values()], ["ingest:8080", "notify:8081"]);
  t.same(lb.volumes, ["./lb.conf:/etc/nginx/nginx.conf:ro"]);
  t.match(lbConf, /resolver 127\.0\.0\.11 valid=\d+s/, "Docker's DNS, asked again");
  for (
    const directive of [
      "proxy_http_version 1.1;",
      "proxy_set_header Upgrade $http_upgrade;",
      "proxy_set_header Connection $connection_upgrade;",
      "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
      "proxy_set_header Host $http_host;",
    ]
  ) {
    t.ok(lbConf.includes(directive), directive);
  }
  t.equal(lbConf.split("{").length, lbConf.split("}").length, "braces balance");
});

t.test("each service: its config reader accepts its environment, and reads every variable given", async (t) => {
  const targets = (parse(file("prometheus.yml")) as {
    scrape_configs: Array<
      { job_name: string; dns_sd_configs: Array<{ names: string[]; type: string; port: number }> }
    >;
  })
    .scrape_configs.find((s) => s.job_name === "jetmesh")!.dns_sd_configs.flatMap((s) =>
      s.type === "A" ? s.names.map((n) => `${n}:${s.port}`) : []
    );
  const natsEnv = envOf("nats1");
  const postgres = envOf("postgres");
  for (const svc of SERVICE_NAMES) {
    const env = envOf(svc);
    const { config, read } = readServiceConfig(svc, env);
    t.same(
      Object.keys(env).filter((k) => !read.has(k)),
      [],
      `${svc}: no variable its config does not read`,
    );
    t.same(config.common.nats.servers, [
      "nats://nats1:4222",
      "nats://nats2:4222",
      "nats://nats3:4222",
    ], `${svc}: every NATS node`);
    t.equal(config.streams.replicas, 3, `${svc}: R3 streams`);
    const auth = config.common.nats.auth as { user: string; pass: string };
    t.equal(auth.user, svc, `${svc}: its own NATS user`);
    t.equal(
      auth.pass,
      natsEnv[users.get(svc)!],
      `${svc}: the password nats-server has for that user`,
    );
    t.same([config.telemetry.exporter, config.telemetry.endpoint], [
      "otlp",
      "http://jaeger:4318/v1/traces",
    ], `${svc}: traces to Jaeger`);
    const port = config.listen.port;
    const opsPort = config.ops?.port ?? port;
    t.same(compose.services[svc].ports, undefined, `${svc}: no port of its own, so it can scale`);
    t.ok(
      (compose.services[svc].deploy?.replicas ?? 1) >= 2,
      `${svc}: replicas (${compose.services[svc].deploy?.replicas})`,
    );
    if (config.ops) {
      t.equal(
        lbPorts.get(port),
        `${svc}:${port}`,
        `${svc}: lb publishes ${port} and passes it to every replica's ${port}`,
      );
      t.notOk(lbPorts.has(opsPort), `${svc}: operations port ${opsPort} not published`);
      t.equal(
        (config as typeof config & { edge: EdgeConfig }).edge.clientAddressHeader,
        "x-forwarded-for",
        `${svc}: the client's address from the header lb sets`,
      );
    }
    t.ok(
      targets.includes(`${svc}:${opsPort}`),
      `${svc}: Prometheus scrapes ${svc}:${opsPort} on every replica`,
    );
    t.match(
      compose.services[svc].healthcheck?.test.join(" "),
      `http://127.0.0.1:${opsPort}/readyz`,
      `${svc}: healthcheck is its /readyz`,
    );
    t.same(compose.services[svc].command, ["node", "--import", "tsx", `cmd/${svc}/main.ts`]);
    t.match(compose.services[svc].depends_on, {
      migrate: { condition: "service_completed_successfully" },
    }, `${svc}: starts after the migration succeeded`);
    if (svc === "persist" || svc === "notify") {
      const db = new URL(config.database!.url);
      t.same([db.hostname, db.username, db.password, db.pathname], [
        "postgres",
        postgres.POSTGRES_USER,
        postgres.POSTGRES_PASSWORD,
        `/${postgres.POSTGRES_DB}`,
      ], `${svc}: the compose PostgreSQL`);
    }
  }
});

t.test("ingest and notify: JWT auth with the .env secret, the mounted namespaces file", async (t) => {
  for (const svc of ["ingest", "notify"] as const) {
    const { config } = readServiceConfig(svc, envOf(svc));
    const { edge } = config as typeof config & { edge: EdgeConfig };
    t.match(edge.auth, { mode: "jwt", keys: { kind: "secret" } }, `${svc}: JWT auth`);
    t.equal(
      edge.auth.mode === "jwt" && edge.auth.keys.kind === "secret" &&
        new TextDecoder().decode(edge.auth.keys.secret),
      dotenv.JETMESH_JWT_SECRET,
    );
    t.same(
      edge.namespaces,
      loadNamespaces(join(here, "../namespaces.example.yaml")),
      `${svc}: infra/namespaces.example.yaml`,
    );
    t.ok(
      compose.services[svc].volumes?.includes(
        "../namespaces.example.yaml:/etc/jetmesh/namespaces.yaml:ro",
      ),
      `${svc}: read-only`,
    );
  }
  t.throws(
    () => interpolate(compose.services.ingest.environment!.JETMESH_JWT_SECRET, {}),
    /JETMESH_JWT_SECRET is required/,
    "compose refuses to start without it",
  );
});

t.test("the migration: one-shot, as admin, with the stream settings the services have", async (t) => {
  const m = compose.services.migrate as ComposeService & { restart?: string; image?: string };
  t.same(m.command, ["node", "--import", "tsx", "cmd/migrate/main.ts"]);
  t.equal(m.restart, "no", "runs once per `up`");
  t.equal(m.image, (compose.services.ingest as { image?: string }).image, "the services' image");
  const env = envOf("migrate");
  const { config, read } = readTracked(readMigrateConfig, env);
  t.same(Object.keys(env).filter((k) => !read.has(k)), [], "no variable its config does not read");
  t.same(
    config.common.nats.auth,
    { user: "admin", pass: envOf("nats1")[users.get("admin")!] },
    "the admin user, with the password nats-server has",
  );
  t.same(config.common.nats.servers, [
    "nats://nats1:4222",
    "nats://nats2:4222",
    "nats://nats3:4222",
  ]);
  t.equal(config.streams.replicas, 3, "R3 streams and buckets");
  for (const svc of SERVICE_NAMES) {
    const own = envOf(svc);
    for (const k of MIGRATION_SETTINGS.filter((k) => own[k] !== undefined)) {
      t.equal(own[k], env[k], `${svc}: ${k} as the migration has it`);
    }
  }
});

t.test("NATS nodes: every password users.conf needs, and nats-server accepts the config", async (t) => {
  for (const node of ["nats1", "nats2", "nats3"]) {
    const env = envOf(node);
    t.same(
      [...users.values()].filter((v) => !env[v]),
      [],
      `${node}: every password variable of users.conf is set`,
    );
    t.equal(env.NATS_SERVER_NAME, node);
    t.ok(
      compose.services[node].volumes?.includes("../nats/users.conf:/etc/nats/users.conf:ro"),
      `${node}: users.conf next to nats.conf`,
    );
  }
  t.same([...users.keys()].sort(), ["admin", "ingest", "notify", "persist", "route"]);
  const bin = findNatsServer();
  if (!bin) return t.fail(new NatsServerMissingError().message);
  const dir = mkdtempSync(join(tmpdir(), "jm-compose-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(join(here, "nats.conf"), join(dir, "nats.conf"));
  copyFileSync(join(here, "../nats/users.conf"), join(dir, "users.conf"));
  const r = spawnSync(bin, ["-c", join(dir, "nats.conf"), "-t"], {
    env: { ...process.env, ...envOf("nats1") },
    encoding: "utf8",
  });
  t.equal(r.status, 0, `nats-server -t: ${r.stderr.trim()}`);
});

t.test("NATS nodes: the pinned nats-server, with the fsync policy docs/durability.md states", async (t) => {
  const pinned = readPins().get("nats-server")!.version.replace(/^v/, "");
  for (const node of ["nats1", "nats2", "nats3"]) {
    t.equal(
      compose.services[node].image,
      `nats:${pinned}-alpine`,
      `${node}: nats-server ${pinned} as infra/tools/pins.txt`,
    );
  }
  // The value itself is checked by nats-server -t above; this is the choice.
  t.match(
    file("nats.conf"),
    /^\s*sync_interval: "2m"$/m,
    "sync_interval: the server's default, stated",
  );
});

t.test("Grafana: the dashboard queries the provisioned datasource", async (t) => {
  const ds = (parse(file("grafana/provisioning/datasources/prometheus.yaml")) as {
    datasources: Array<{ uid: string; url: string }>;
  }).datasources;
  t.same(ds.map((d) => [d.uid, d.url]), [["prometheus", "http://prometheus:9090"]]);
  const dash = JSON.parse(file("grafana/dashboards/jetmesh.json")) as {
    panels: Array<
      {
        type: string;
        datasource?: { uid: string };
        targets?: Array<{ datasource: { uid: string } }>;
      }
    >;
  };
  for (const p of dash.panels.filter((p) => p.type !== "row")) {
    t.ok(
      [p.datasource, ...(p.targets ?? []).map((x) => x.datasource)].every((d) =>
        d?.uid === "prometheus"
      ),
    );
  }
});
