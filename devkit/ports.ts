/** Free TCP ports for the servers the dev tooling starts: any free one, a preferred one, or one that survives a restart. */
import { readFile } from "node:fs/promises";
import { createServer } from "node:net";

/**
 * Asks the kernel for a free TCP port on 127.0.0.1 and releases it.
 * Another process may still take it before the caller binds, so callers that
 * spawn servers should retry on "address already in use".
 */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  return (await freePorts(1, host))[0];
}

/** Several distinct free ports at once (held open together so they differ). */
export async function freePorts(count: number, host = "127.0.0.1"): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<import("node:net").Server>((resolve, reject) => {
          const srv = createServer();
          srv.unref();
          srv.once("error", reject);
          srv.listen({ port: 0, host, exclusive: true }, () => resolve(srv));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const addr = s.address();
    return typeof addr === "object" && addr !== null ? addr.port : 0;
  });
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

/**
 * True when nothing accepts connections on host:port (a bind test, so it also sees 0.0.0.0
 * listeners).
 */
export function isPortFree(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => {
      srv.close(() => resolve(true));
    });
  });
}

/**
 * `preferred` when free, else (or when 0) any free port; `moved` says the preferred one was
 * taken. For run-local, which keeps its well-known ports when it can.
 */
export async function pickPort(
  preferred: number,
  host = "127.0.0.1",
): Promise<{ port: number; moved: boolean }> {
  if (preferred > 0 && (await isPortFree(preferred, host))) {
    return { port: preferred, moved: false };
  }
  return { port: await freePort(host), moved: preferred > 0 };
}

/**
 * Free ports below the kernel's ephemeral range, for servers a test restarts
 * on the same port. A port from the ephemeral range (what freePorts returns)
 * can be taken, while its server is down, as the local port of any outgoing
 * connection on the machine, and the restart then cannot bind it.
 */
export async function restartablePorts(count: number, host = "127.0.0.1"): Promise<number[]> {
  let low = 32768;
  try {
    low = Number(
      (await readFile("/proc/sys/net/ipv4/ip_local_port_range", "utf8")).trim().split(/\s+/)[0],
    ) || low;
  } catch {
    // not Linux: keep the usual lower bound
  }
  const floor = Math.min(10_000, low - count);
  const ports: number[] = [];
  while (ports.length < count) {
    const port = floor + Math.floor(Math.random() * (low - floor));
    if (!ports.includes(port) && (await isPortFree(port, host))) ports.push(port);
  }
  return ports;
}
