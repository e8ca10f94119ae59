import { PGlite } from "@electric-sql/pglite";
import type { Logger } from "../log/mod.ts";
import { serveWire } from "./pglite-wire.ts";

export interface EmbeddedOptions {
  /** Data directory; in memory when absent, so everything is lost on close. */
  dataDir?: string;
  host?: string;
  /** 0 picks a free port; the returned url names the one chosen. */
  port?: number;
  /**
   * Client connections accepted at once; default 16. They take turns on
   * PGlite's single session, so more connections add no parallelism. Past the
   * limit a client is refused with SQLSTATE 53300, as PostgreSQL does.
   */
  maxConnections?: number;
  log: Logger;
}

export interface EmbeddedPostgres {
  /**
   * A postgres:// URL for postgres.js; keep the pool `max` of all clients together within
   * maxConnections.
   */
  url: string;
  close(): Promise<void>;
}

/**
 * PGlite (PostgreSQL compiled to WASM) behind the PostgreSQL wire protocol, so
 * the services run unchanged without a database server. Development only: it
 * runs with fsync off, and all clients share one session (a `SET` or session
 * advisory lock of one applies to all; transaction-scoped ones work) taking
 * turns of a statement or a whole transaction.
 */
export async function startEmbeddedPostgres(opts: EmbeddedOptions): Promise<EmbeddedPostgres> {
  const started = performance.now();
  const db = await PGlite.create(opts.dataDir);
  const created = performance.now();
  const host = opts.host ?? "127.0.0.1";
  const maxConnections = opts.maxConnections ?? 16;
  const server = await serveWire(db, { host, port: opts.port ?? 0, maxConnections, log: opts.log })
    .catch(async (err) => {
      await db.close();
      throw err;
    });
  const url = `postgres://postgres@${
    host.includes(":") ? `[${host}]` : host
  }:${server.port}/postgres`;
  opts.log.info("embedded postgres ready", {
    url,
    dataDir: opts.dataDir ?? null,
    createMs: Math.round(created - started),
    totalMs: Math.round(performance.now() - started),
  });
  return {
    url,
    async close() {
      await server.close();
      await db.close();
    },
  };
}
