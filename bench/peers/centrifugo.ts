/**
 * Centrifugo v6, a peer the bench compares jetmesh with: the pinned build of infra/tools/pins.txt
 * (`TOOLS=centrifugo make tools`, which `make bench` runs) or CENTRIFUGO_BIN, started on loopback
 * with a generated JSON config.
 *
 * Configured as the docs recommend for speed and as close to jetmesh's setup as Centrifugo goes:
 * clients present an HS256 JWT (jetmesh runs with JWT too); one namespace `bench` with history
 * and forced recovery on, so a subscriber that reconnects gets what it missed from memory;
 * clients may publish and subscribe there without a backend round-trip (the fastest path: no
 * proxy); the memory engine; no compression; pooled write buffers (the documented setting for
 * many mostly idle connections); logging at errors only.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../devkit/ports.ts";
import { findTool, toolMissingReason } from "../../infra/tools/tools.ts";

export const NAMESPACE = "bench";

export interface CentrifugoConfigInput {
  port: number;
  secret: string;
  apiKey: string;
}

/** The config file's contents (v6 keys; `centrifugo checkconfig` accepts it). */
export function centrifugoConfig(i: CentrifugoConfigInput): Record<string, unknown> {
  return {
    http_server: { address: "127.0.0.1", port: i.port },
    log: { level: "error" },
    usage_stats: { disabled: true },
    health: { enabled: true },
    client: { token: { hmac_secret_key: i.secret }, allowed_origins: ["*"] },
    http_api: { key: i.apiKey },
    websocket: { use_write_buffer_pool: true },
    // Go's pprof endpoints, on loopback, only so that the idle ramp can force a collection
    // (`heap?gc=1`) before each RSS reading, as it does through the inspector for Node servers.
    debug: { enabled: true },
    channel: {
      namespaces: [{
        name: NAMESPACE,
        history_size: 1000,
        history_ttl: "300s",
        force_recovery: true,
        allow_subscribe_for_client: true,
        allow_publish_for_client: true,
      }],
    },
  };
}

/** A channel of the bench namespace: `bench:<name>`. */
export const channelOf = (name: string) => `${NAMESPACE}:${name}`;

export interface Centrifugo {
  pid: number;
  wsUrl: string;
  /** A full garbage collection (runtime.GC through pprof's heap profile with gc=1). */
  collect(): Promise<void>;
  stop(): Promise<void>;
}

/** Where the binary is, or why there is none (the peers rows then say "not run: …"). */
export function centrifugoBinary(): { bin?: string; reason?: string } {
  const bin = findTool("centrifugo");
  return bin ? { bin } : { reason: toolMissingReason("centrifugo").split("\n")[0] };
}

async function healthy(port: number, deadline: number, child: ChildProcess): Promise<void> {
  while (performance.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`centrifugo exited with ${child.exitCode}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/health`);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("centrifugo did not become healthy within 15 s");
}

export async function startCentrifugo(bin: string, secret: string): Promise<Centrifugo> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "jm-centrifugo-"));
  const config = join(dir, "config.json");
  const apiKey = randomKey();
  writeFileSync(config, JSON.stringify(centrifugoConfig({ port, secret, apiKey }), null, 2));
  const child = spawn(bin, ["--config", config], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    if (stderr.length < 4000) stderr += d.toString("utf8");
  });
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await healthy(port, performance.now() + 15_000, child);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}: ${stderr.trim().slice(0, 500)}`);
  }
  const collect = async () => {
    await (await fetch(`http://127.0.0.1:${port}/debug/pprof/heap?gc=1`)).arrayBuffer();
  };
  return {
    pid: child.pid ?? -1,
    wsUrl: `ws://127.0.0.1:${port}/connection/websocket`,
    collect,
    stop,
  };
}

function randomKey(): string {
  return Array.from({ length: 4 }, () => Math.random().toString(36).slice(2)).join("");
}
