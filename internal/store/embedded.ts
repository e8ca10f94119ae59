import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import type { Logger } from "../log/mod.ts";

export interface EmbeddedOptions {
  /** Data directory; in memory when absent, so everything is lost on close. */
  dataDir?: string;
  host?: string;
  /** 0 picks a free port; the returned url names the one chosen. */
  port?: number;
  /**
   * Client connections accepted at once; default 1. pglite-socket 0.2.17 shares
   * PGlite's single session between connections and interleaves their protocol
   * messages, so with more than one a client's statement now and then fails
   * (`portal "" does not exist`), often when another runs a transaction. Past
   * the limit a client is sent plain text and postgres.js hangs, never failing.
   */
  maxConnections?: number;
  log: Logger;
}

export interface EmbeddedPostgres {
  /** A postgres:// URL for postgres.js; keep the pool `max` of all clients together within maxConnections. */
  url: string;
  close(): Promise<void>;
}

/**
 * PGlite (PostgreSQL compiled to WASM) behind the PostgreSQL wire protocol, so
 * the services run unchanged without a database server. Development only: it
 * runs with fsync off and executes one statement at a time.
 */
export async function startEmbeddedPostgres(opts: EmbeddedOptions): Promise<EmbeddedPostgres> {
  const started = performance.now();
  const db = await PGlite.create(opts.dataDir);
  const created = performance.now();
  const host = opts.host ?? "127.0.0.1";
  const server = new PGLiteSocketServer({ db, host, port: opts.port ?? 0, maxConnections: opts.maxConnections ?? 1 });
  try {
    await server.start();
  } catch (err) {
    await db.close();
    throw err;
  }
  // After start() the server reports the bound port, also when 0 was asked for.
  const port = Number(server.getServerConn().split(":").pop());
  const url = `postgres://postgres@${host.includes(":") ? `[${host}]` : host}:${port}/postgres`;
  opts.log.info("embedded postgres ready", {
    url,
    dataDir: opts.dataDir ?? null,
    createMs: Math.round(created - started),
    totalMs: Math.round(performance.now() - started),
  });
  return {
    url,
    async close() {
      await server.stop();
      await db.close();
    },
  };
}
