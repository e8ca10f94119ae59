/**
 * `make run-local`: the whole platform on one machine.
 *
 * - NATS: NATS_URL when set (an external server: no server or users here);
 *   otherwise a nats-server with JetStream, data in .data/nats, on
 *   127.0.0.1:4222 (another free port when 4222 is taken), with the users of
 *   infra/nats/users.conf. Their passwords come from JETMESH_NATS_<USER>_PASSWORD
 *   or are generated once and kept in .data/nats-passwords.json (mode 0600).
 * - The migration (cmd/migrate) as the admin user, before any service: it
 *   creates the streams and KV buckets; the services' users may not.
 * - A nats CLI context `jetmesh-local` with the admin user, and
 *   .data/run-local.env for `make inspect` / `make replay-dlq`.
 * - PostgreSQL: DATABASE_URL when set; otherwise embedded PGlite
 *   (cmd/pglite/main.ts, data in .data/pglite) with DATABASE_POOL_MAX=1.
 * - ingest, route, persist, notify (node --import tsx cmd/<svc>/main.ts), each
 *   as its own NATS user, on 127.0.0.1 unless <SVC>_HOST says otherwise, with
 *   their output prefixed and coloured. RUN_LOCAL_LOG=json keeps the raw JSON.
 *   RUN_LOCAL_REPLICAS=n (make run-local REPLICAS=n): n processes of each,
 *   replica i on each port + 100 × i (devkit/local-stack/replicas.ts).
 * - JWT auth on ingest and notify (devkit/local-stack/dev-auth.ts): HS256 with
 *   JETMESH_JWT_SECRET, or a secret generated once into .data/jwt-secret
 *   (mode 0600); the namespaces of infra/local/namespaces.yaml; notify's
 *   development endpoint /dev/token (JETMESH_DEV_TOKENS=1), which the chat
 *   page gets its tokens from; ingest accepts the page's origin. A token for
 *   `alice` is printed and kept in .data/run-local.env (JETMESH_TOKEN).
 *   JETMESH_JWT_PUBLIC_KEY_FILE, JETMESH_JWT_JWKS_URL or JETMESH_AUTH=none
 *   instead: as they say, without dev tokens.
 * - Jaeger (the pinned .tools/bin/jaeger, or JAEGER_BIN) with
 *   infra/local/jaeger.yaml, unless RUN_LOCAL_JAEGER=0 or an OTEL_* exporter
 *   variable is set: UI and query API on JAEGER_UI_PORT (16686), OTLP/HTTP on
 *   JAEGER_OTLP_PORT (4318), another free port when one is taken; the
 *   services send their traces to it.
 *
 * Ctrl-C / SIGTERM stops the services (SIGTERM, SIGKILL after 10 s), then
 * PGlite and nats-server, and exits 0. If any of them exits on its own,
 * everything is stopped and the exit code is 1.
 *
 * `--smoke` (make smoke): the same stack on free ports with its data in a
 * temporary directory (so it can run beside a running run-local), then
 * infra/local/smoke.ts against it, then everything stops; the exit code is the
 * smoke check's. Its nats CLI context goes to a temporary XDG_CONFIG_HOME, so
 * the developer's own `jetmesh-local` context is left alone.
 *
 * The stack itself is devkit/local-stack/stack.ts; this file is its command
 * line: signals, what is printed on a failure, and the exit code.
 */
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { color, say, shout } from "../../devkit/local-stack/console.ts";
import { LocalStack, StartFailure } from "../../devkit/local-stack/stack.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const smoke = process.argv.includes("--smoke");
let stopping = false;

const stack = new LocalStack({
  root,
  smoke,
  env: process.env,
  graceMs: Number(process.env.RUN_LOCAL_GRACE_MS ?? 10_000),
  // Any child that exits while we are not stopping takes everything down.
  onUnexpectedExit: (c, { code, signal }) =>
    void fail(`${c.name} exited unexpectedly (code ${code}, signal ${signal})`, c.tail.slice(-5)),
});

async function shutdown(exitCode: number, why: string): Promise<never> {
  if (stopping) {
    // Already on the way out; a second Ctrl-C kills everything at once.
    return await new Promise<never>(() => {});
  }
  stopping = true;
  say(why, exitCode === 0 ? color.bold : color.red);
  await stack.stop();
  say(
    exitCode === 0 ? "stopped" : "stopped after a failure",
    exitCode === 0 ? color.bold : color.red,
  );
  process.exit(exitCode);
}

function fail(msg: string, tail: string[] = []): Promise<never> {
  shout(msg);
  if (tail.length > 0) process.stderr.write(`${color.dim(tail.slice(-15).join("\n"))}\n`);
  return shutdown(1, "stopping everything");
}

let interrupts = 0;
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(sig, () => {
    interrupts++;
    if (interrupts > 1) {
      shout(`${sig} again: killing everything now`);
      stack.killAll();
      process.exit(130);
    }
    void shutdown(0, `${sig}: stopping (again to kill at once)`);
  });
}

async function main(): Promise<void> {
  const unfit = await stack.prepare();
  if (unfit) {
    // Nothing started yet: nothing to stop.
    shout(unfit);
    process.exit(1);
  }
  const info = await stack.start();
  if (!info || stopping) return;
  if (!smoke) {
    for (const l of info.lines) say(l);
    return;
  }
  say(
    `stack ready (${
      info.healthy ? "all healthy" : "some /healthz did not answer"
    }); running the smoke check`,
  );
  const { code, signal } = await stack.smokeCheck(info);
  if (stopping) return;
  await shutdown(
    code === 0 ? 0 : 1,
    code === 0
      ? "smoke check passed: stopping"
      : `smoke check failed (code ${code}, signal ${signal}): stopping`,
  );
}

main().catch((err) => {
  if (err instanceof StartFailure) void fail(err.message, err.tail);
  else {
    void fail(`run-local failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
  }
});
