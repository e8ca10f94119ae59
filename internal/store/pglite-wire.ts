import { Buffer } from "node:buffer";
import { createServer, type Socket } from "node:net";
import type { PGlite } from "@electric-sql/pglite";
import type { Logger } from "../log/mod.ts";

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const TERMINATE = 0x58; // 'X'
const READY_FOR_QUERY = 0x5a; // 'Z'
const IDLE = 0x49; // 'I': ReadyForQuery outside any transaction

function message(type: string, ...fields: (string | Uint8Array)[]): Buffer {
  const body = Buffer.concat(fields.map((f) => (typeof f === "string" ? Buffer.from(f) : f)));
  const head = Buffer.alloc(5);
  head.write(type, 0);
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

/**
 * Ends what a vanished client left in the session. The Parse cannot parse, so
 * its error aborts an unsynced extended query (a bare Sync would commit it)
 * and any transaction; Sync ends the extended query and ROLLBACK leaves the
 * failed transaction block. PostgreSQL discards a dropped session's work too.
 */
const ABANDON = Buffer.concat([
  message("P", "\0", "(\0", new Uint8Array(2)),
  message("S"),
  message("Q", "ROLLBACK\0"),
]);

/**
 * What PostgreSQL answers a client past max_connections; postgres.js fails the query with it
 * instead of hanging.
 */
const TOO_MANY_CLIENTS = message(
  "E",
  "SFATAL\0",
  "VFATAL\0",
  "C53300\0",
  "Msorry, too many clients already\0",
  "\0",
);

/**
 * Follows backend message boundaries across output chunks, to tell whether the output ended with
 * ReadyForQuery.
 */
class ReplyEnd {
  private head = Buffer.alloc(5);
  private headLen = 0;
  private bodyLeft = 0;
  private type = 0;
  private status = 0;

  feed(chunk: Uint8Array): void {
    for (let i = 0; i < chunk.length;) {
      if (this.bodyLeft === 0) {
        this.head[this.headLen++] = chunk[i++];
        if (this.headLen < 5) continue;
        this.headLen = 0;
        this.type = this.head[0];
        this.bodyLeft = this.head.readInt32BE(1) - 4;
        this.status = 0;
        continue;
      }
      if (this.type === READY_FOR_QUERY && this.status === 0) this.status = chunk[i];
      const n = Math.min(this.bodyLeft, chunk.length - i);
      i += n;
      this.bodyLeft -= n;
    }
  }

  /** The ReadyForQuery status byte, when the output so far ends with a whole ReadyForQuery. */
  get readyStatus(): number | undefined {
    const whole = this.headLen === 0 && this.bodyLeft === 0;
    return whole && this.type === READY_FOR_QUERY ? this.status : undefined;
  }
}

interface Client {
  socket: Socket;
  gone: boolean;
}

/**
 * PGlite has a single PostgreSQL session. A client holds it for a whole turn,
 * from its first message until PostgreSQL is ready for a query outside a
 * transaction, so another client's Sync or COMMIT never lands inside its
 * extended query or transaction. A client idle inside a transaction
 * therefore stalls all others, as a lock would.
 */
class SessionLease {
  private queue: { client: Client; msg: Uint8Array }[] = [];
  private holder: Client | undefined;
  private busy = false;
  private drained: Promise<void> = Promise.resolve();
  private closing = false;

  constructor(private readonly db: PGlite, private readonly log: Logger) {}

  push(client: Client, msg: Uint8Array): void {
    this.queue.push({ client, msg });
    this.pump();
  }

  drop(client: Client): void {
    client.gone = true;
    this.queue = this.queue.filter((q) => q.client !== client);
    this.pump();
  }

  /** Waits for the message PGlite is running, then runs no more, so the database can be closed. */
  async close(): Promise<void> {
    this.closing = true;
    await this.drained;
  }

  private pump(): void {
    if (this.busy) return;
    this.busy = true;
    this.drained = this.run();
  }

  private async run(): Promise<void> {
    try {
      while (!this.closing) {
        if (this.holder?.gone) {
          this.holder = undefined;
          const status = await this.exec(ABANDON);
          if (status !== IDLE) {
            const state = status === undefined ? null : String.fromCharCode(status);
            this.log.warn("embedded postgres: session not idle after a client left mid-turn", {
              state,
            });
          }
          continue;
        }
        const i = this.holder ? this.queue.findIndex((q) => q.client === this.holder) : 0;
        if (i < 0 || i >= this.queue.length) return;
        const [{ client, msg }] = this.queue.splice(i, 1);
        const status = await this.exec(msg, client);
        this.holder = status === IDLE ? undefined : client;
      }
    } finally {
      this.busy = false;
    }
  }

  private async exec(msg: Uint8Array, client?: Client): Promise<number | undefined> {
    const end = new ReplyEnd();
    try {
      await this.db.runExclusive(() =>
        this.db.execProtocolRawStream(msg, {
          onRawData: (data) => {
            end.feed(data);
            // The data is a view into PGlite's buffer, which the next message reuses.
            if (client && !client.gone && client.socket.writable) {
              client.socket.write(Buffer.from(data));
            }
          },
        })
      );
    } catch (err) {
      this.log.error("embedded postgres failed a client message", { err });
      client?.socket.destroy();
      return undefined;
    }
    return end.readyStatus;
  }
}

export interface WireOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  maxConnections: number;
  log: Logger;
}

export interface WireServer {
  port: number;
  /** Disconnects every client; the database stays open for the caller to close. */
  close(): Promise<void>;
}

/**
 * Serves a PGlite database over the PostgreSQL wire protocol to any number of
 * clients (replacing pglite-socket 0.2.17, whose multiplexer interleaves
 * clients' extended queries). No TLS and no authentication: PGlite accepts
 * whatever user and database the client names.
 */
export async function serveWire(db: PGlite, opts: WireOptions): Promise<WireServer> {
  const lease = new SessionLease(db, opts.log);
  const clients = new Set<Client>();

  const server = createServer((socket) => {
    const client: Client = { socket, gone: false };
    // 'close' follows every error.
    socket.on("error", () => {});
    socket.on("close", () => {
      clients.delete(client);
      lease.drop(client);
    });
    const refused = clients.size >= opts.maxConnections;
    // Kept in the set even when refused, so that close() ends it too.
    clients.add(client);
    if (refused) {
      // Closed fully, as PostgreSQL's backend exits: postgres.js never closes
      // its side after a refusal, and a half-open socket would keep the slot.
      // Reading what the client sends keeps the close from being a reset that
      // could lose the error.
      socket.resume();
      socket.end(TOO_MANY_CLIENTS, () => socket.destroy());
      return;
    }
    socket.setNoDelay(true);
    let started = false;
    let buf: Buffer = Buffer.alloc(0);

    socket.on("data", (data: Buffer) => {
      buf = buf.length === 0 ? data : Buffer.concat([buf, data]);
      // Before startup a message is length + code; after it, type + length.
      for (;;) {
        const headLen = started ? 5 : 8;
        if (buf.length < headLen) return;
        const len = started ? 1 + buf.readInt32BE(1) : buf.readInt32BE(0);
        if (len < headLen) {
          socket.destroy();
          return;
        }
        if (buf.length < len) return;
        const msg = buf.subarray(0, len);
        buf = buf.subarray(len);
        if (started) {
          // PGlite ignores Terminate, and the session outlives the client anyway.
          if (msg[0] === TERMINATE) {
            socket.end();
            return;
          }
          lease.push(client, msg);
          continue;
        }
        const code = msg.readInt32BE(4);
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          socket.write("N");
        } else if (code >> 16 === 3) {
          started = true;
          lease.push(client, msg);
        } else {
          // A CancelRequest (PGlite has no backend process to signal) or an unknown protocol.
          socket.destroy();
          return;
        }
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === "string") {
    throw new Error("embedded postgres: no TCP address");
  }

  return {
    port: address.port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const c of clients) c.socket.destroy();
      await lease.close();
      await closed;
    },
  };
}
