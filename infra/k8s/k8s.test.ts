// The Kubernetes manifests and NATS Helm values cannot be applied here (no
// cluster): check that they parse, that each Deployment's environment is
// accepted by the service's own config reader, and that ports, probes,
// secrets and the NATS users agree.
import t, { type Test } from "tap";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { readMigrateConfig } from "../../internal/migrate/mod.ts";
import { readServiceConfig, readTracked, usersConf } from "../../devkit/service-config.ts";
import { SERVICE_NAMES } from "../../devkit/catalog.ts";
import { findNatsServer, NatsServerMissingError } from "../../devkit/nats-server.ts";
import { readPins } from "../tools/tools.ts";
import type { EdgeConfig } from "../../internal/edge/mod.ts";
import { loadNamespaces } from "../../internal/namespaces/mod.ts";

const here = new URL(".", import.meta.url).pathname;
const users = usersConf(readFileSync(join(here, "../nats/users.conf"), "utf8"));

type EnvVar = {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
};
interface Container {
  name: string;
  command: string[];
  ports: Array<{ name: string; containerPort: number }>;
  envFrom?: Array<{ configMapRef: { name: string } }>;
  env: EnvVar[];
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
}
interface Doc {
  kind: string;
  metadata: { name: string; namespace?: string };
  data?: Record<string, string>;
  spec?: {
    replicas?: number;
    /** A Deployment's is `{ matchLabels }`, a Service's the labels themselves. */
    selector?: Record<string, unknown>;
    ports?: Array<{ name: string; port: number; targetPort: string }>;
    template?: {
      metadata: { labels: Record<string, string>; annotations: Record<string, string> };
      spec: {
        containers: Container[];
        restartPolicy?: string;
        volumes?: Array<{ name: string; configMap?: { name: string } }>;
      };
    };
    backoffLimit?: number;
  };
}

const docs = parseAllDocuments(readFileSync(join(here, "jetmesh.yaml"), "utf8")).map((d) => {
  if (d.errors.length > 0) throw d.errors[0];
  return d.toJS() as Doc;
});
const find = (kind: string, name: string) =>
  docs.find((d) => d.kind === kind && d.metadata.name === name);

/**
 * A container's own variables, secrets replaced by the stand-ins below and
 * paths into a mounted ConfigMap by the file the ConfigMap is created from.
 */
function envOf(
  t: Test,
  who: string,
  c: Container,
  volumes: Array<{ name: string; configMap?: { name: string } }> = [],
): Record<string, string> {
  const own: Record<string, string> = {};
  for (const e of c.env) {
    const ref = e.valueFrom?.secretKeyRef;
    const v = ref ? secrets[ref.name]?.[ref.key] : e.value;
    t.ok(
      v !== undefined,
      `${who}: ${e.name} has a value or a known secret (${JSON.stringify(e.valueFrom ?? e.value)})`,
    );
    own[e.name] = v!;
    for (const m of c.volumeMounts ?? []) {
      const map = volumes.find((vol) => vol.name === m.name)?.configMap?.name;
      if (map === undefined || !v!.startsWith(`${m.mountPath}/`)) continue;
      const file = configMapFiles[map]?.[v!.slice(m.mountPath.length + 1)];
      t.ok(file !== undefined, `${who}: ${e.name}=${v} is a key of ConfigMap ${map}`);
      own[e.name] = file!;
    }
  }
  return own;
}
/** What secretKeyRef values stand for in this test. */
const secrets: Record<string, Record<string, string>> = {
  "jetmesh-nats": Object.fromEntries([...users.keys()].map((u) => [u, `${u}-password`])),
  "jetmesh-postgres": { url: "postgres://jetmesh:pw@postgres.example:5432/jetmesh" },
  "jetmesh-jwt": { secret: "k8s-test-jwt-secret-of-at-least-32-bytes" },
};
/** The ConfigMaps the header's kubectl commands create, by key: the files they are created from. */
const configMapFiles: Record<string, Record<string, string>> = {
  "jetmesh-namespaces": { "namespaces.yaml": join(here, "../namespaces.example.yaml") },
};

t.test("jetmesh.yaml: a Deployment and a Service per service, each accepted by its config reader", async (t) => {
  t.same(
    docs.map((d) => `${d.kind}/${d.metadata.name}`).sort(),
    [
      "ConfigMap/jetmesh",
      "Job/jetmesh-migrate",
      ...SERVICE_NAMES.flatMap((s) => [`Deployment/jetmesh-${s}`, `Service/jetmesh-${s}`]),
    ].sort(),
  );
  const shared = find("ConfigMap", "jetmesh")!.data!;
  const readAnywhere = new Set<string>();
  for (const svc of SERVICE_NAMES) {
    const dep = find("Deployment", `jetmesh-${svc}`)!;
    const pod = dep.spec!.template!;
    const [c] = pod.spec.containers;
    t.same(c.command, ["node", "--import", "tsx", `cmd/${svc}/main.ts`]);
    t.same(c.envFrom, [{ configMapRef: { name: "jetmesh" } }]);
    const own = envOf(t, svc, c, pod.spec.volumes);
    const { config, read } = readServiceConfig(svc, { ...shared, ...own });
    for (const k of read) readAnywhere.add(k);
    t.same(
      Object.keys(own).filter((k) => !read.has(k)),
      [],
      `${svc}: no variable its config does not read`,
    );
    t.same((config.common.nats.auth as { user: string }).user, svc, `${svc}: its own NATS user`);
    t.ok(users.has(svc), `${svc}: a user in users.conf`);
    const port = config.listen.port;
    // ingest and notify: the operations routes on a port of their own; route and persist
    // have only that one.
    const ops = config.ops
      ? { name: "ops", containerPort: config.ops.port }
      : { name: "http", containerPort: port };
    t.same(
      c.ports,
      config.ops ? [{ name: "http", containerPort: port }, ops] : [ops],
      `${svc}: container ports`,
    );
    t.same(
      [c.livenessProbe.httpGet, c.readinessProbe.httpGet],
      [{ path: "/healthz", port: ops.name }, { path: "/readyz", port: ops.name }],
      `${svc}: liveness /healthz, readiness /readyz on port ${ops.name}`,
    );
    t.same(pod.metadata.annotations, {
      "prometheus.io/scrape": "true",
      "prometheus.io/port": String(ops.containerPort),
      "prometheus.io/path": "/metrics",
    });
    t.same(dep.spec!.selector!.matchLabels, pod.metadata.labels);
    const service = find("Service", `jetmesh-${svc}`)!;
    t.same(service.spec!.ports, [{ name: "http", port, targetPort: "http" }]);
    t.same(service.spec!.selector, pod.metadata.labels);
    // route's replicas share the partitions, one holder each; persist's write one durable's
    // batches concurrently; the Services spread clients over ingest's and notify's.
    t.ok(dep.spec!.replicas! > 1, `${svc}: replicas (${dep.spec!.replicas})`);
    if (svc === "ingest" || svc === "notify") {
      const { edge } = config as typeof config & { edge: EdgeConfig };
      t.match(
        edge.auth,
        { mode: "jwt", keys: { kind: "secret" } },
        `${svc}: JWT auth, the key from the jetmesh-jwt Secret`,
      );
      t.same(
        edge.namespaces,
        loadNamespaces(configMapFiles["jetmesh-namespaces"]["namespaces.yaml"]),
        `${svc}: the namespaces of the ConfigMap`,
      );
      t.match(
        c.volumeMounts,
        [{ mountPath: "/etc/jetmesh", readOnly: true }],
        `${svc}: mounted read-only`,
      );
    }
  }
  t.same(
    Object.keys(shared).filter((k) => !readAnywhere.has(k)),
    [],
    "every shared variable is read by some service",
  );
  t.equal(shared.STREAM_REPLICAS, "3", "R3 streams on the 3-node cluster");
});

t.test("jetmesh.yaml: the migration Job runs as admin with the services' ConfigMap", async (t) => {
  const job = find("Job", "jetmesh-migrate")!;
  const pod = job.spec!.template!;
  const [c] = pod.spec.containers;
  t.same(c.command, ["node", "--import", "tsx", "cmd/migrate/main.ts"]);
  t.same(c.envFrom, [{ configMapRef: { name: "jetmesh" } }], "the same settings as the services");
  t.equal(pod.spec.restartPolicy, "OnFailure", "tried again while NATS is not up yet");
  t.ok(job.spec!.backoffLimit! >= 3);
  const own = envOf(t, "migrate", c);
  const { config, read } = readTracked(readMigrateConfig, {
    ...find("ConfigMap", "jetmesh")!.data!,
    ...own,
  });
  t.same(Object.keys(own).filter((k) => !read.has(k)), [], "no variable its config does not read");
  t.same(
    config.common.nats.auth,
    { user: "admin", pass: "admin-password" },
    "the admin user from jetmesh-nats",
  );
  t.equal(config.streams.replicas, 3);
  for (const svc of SERVICE_NAMES) {
    const [sc] = find("Deployment", `jetmesh-${svc}`)!.spec!.template!.spec.containers;
    t.notOk(
      sc.env.some((e) => e.valueFrom?.secretKeyRef?.key === "admin"),
      `${svc}: never sees the admin password`,
    );
  }
});

t.test("nats-values.yaml: users.conf as is, its passwords from the Secret the services use", async (t) => {
  const v = parse(readFileSync(join(here, "nats-values.yaml"), "utf8")) as {
    config: {
      cluster: { enabled: boolean; replicas: number };
      jetstream: { enabled: boolean };
      merge: { $include: string };
    };
    container: {
      env: Record<string, { valueFrom: { secretKeyRef: { name: string; key: string } } }>;
      patch: Array<{ value: { name: string; mountPath: string } }>;
    };
    podTemplate: { patch: Array<{ value: { name: string; configMap: { name: string } } }> };
  };
  t.same([v.config.cluster.enabled, v.config.cluster.replicas, v.config.jetstream.enabled], [
    true,
    3,
    true,
  ], "3-node JetStream cluster");
  t.same(
    Object.keys(v.container.env).sort(),
    [...users.values()].sort(),
    "every password variable users.conf reads",
  );
  for (const [user, variable] of users) {
    t.same(
      v.container.env[variable].valueFrom.secretKeyRef,
      { name: "jetmesh-nats", key: user },
      `${variable} from jetmesh-nats/${user}`,
    );
  }
  const [mount] = v.container.patch.map((p) => p.value);
  const [volume] = v.podTemplate.patch.map((p) => p.value);
  t.equal(mount.name, volume.name, "the mounted volume is the one added to the pod");
  t.equal(volume.configMap.name, "jetmesh-nats-users");
  t.equal(
    join("/etc/nats-config", v.config.merge.$include),
    join(mount.mountPath, "users.conf"),
    "the include points at the mounted users.conf",
  );
});

t.test("nats-values.yaml: the pinned nats-server, with the fsync policy docs/durability.md states", async (t) => {
  const v = parse(readFileSync(join(here, "nats-values.yaml"), "utf8")) as {
    config: { jetstream: { merge: Record<string, unknown> } };
    container: { image: { tag: string } };
    podTemplate: { topologySpreadConstraints: Record<string, { maxSkew: number }> };
  };
  const pinned = readPins().get("nats-server")!.version.replace(/^v/, "");
  t.equal(
    v.container.image.tag,
    `${pinned}-alpine`,
    `nats-server ${pinned} as infra/tools/pins.txt`,
  );
  t.same(
    v.config.jetstream.merge,
    { sync_interval: "2m" },
    "sync_interval: the server's default, stated",
  );
  t.equal(
    v.podTemplate.topologySpreadConstraints["kubernetes.io/hostname"]?.maxSkew,
    1,
    "the three pods spread over hosts",
  );
  // The chart writes its config as JSON, which nats-server reads: the merged block must pass
  // nats-server -t.
  const bin = findNatsServer();
  if (!bin) return t.fail(new NatsServerMissingError().message);
  const dir = mkdtempSync(join(tmpdir(), "jm-k8s-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(
    join(dir, "nats.conf"),
    JSON.stringify(
      { jetstream: { store_dir: join(dir, "js"), ...v.config.jetstream.merge } },
      null,
      2,
    ),
  );
  const r = spawnSync(bin, ["-c", join(dir, "nats.conf"), "-t"], { encoding: "utf8" });
  t.equal(r.status, 0, `nats-server -t: ${r.stderr.trim()}`);
});
