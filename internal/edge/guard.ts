import {
  anonymous,
  type Caller,
  createVerifier,
  isAuthenticated,
  type Verifier,
} from "../auth/mod.ts";
import { JetmeshError } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import { type Action, Policy, type ResolvedNamespace } from "../namespaces/mod.ts";
import { RateLimiter } from "../ratelimit/mod.ts";
import type { EdgeConfig } from "./config.ts";
import { ConnectionCounter } from "./connections.ts";

/** The parts of an HTTP request or WebSocket upgrade the guard reads. */
export interface RequestHead {
  header(name: string): string | undefined;
  query: URLSearchParams;
  remoteAddress: string;
}

export type Limited = "publish" | "command";

/**
 * Everything a client-facing service checks before it does work for a caller:
 * who it is (token), where it comes from (Origin, address), what it may do
 * (namespaces), and how much (rates, connections).
 */
export class Guard {
  readonly policy: Policy;
  readonly connections: ConnectionCounter;
  readonly #cfg: EdgeConfig;
  readonly #verifier: Verifier | undefined;
  readonly #limiter = new RateLimiter();

  private constructor(cfg: EdgeConfig, verifier: Verifier | undefined) {
    this.#cfg = cfg;
    this.#verifier = verifier;
    this.policy = new Policy(cfg.namespaces, cfg.auth.mode === "none");
    this.connections = new ConnectionCounter(cfg.namespaces.connections);
  }

  static async create(cfg: EdgeConfig, service: string, log: Logger): Promise<Guard> {
    if (cfg.auth.mode === "none") {
      log.warn(
        `${service} runs with JETMESH_AUTH=none: anyone who reaches it may publish and read every channel as anyone`,
        {
          auth: "none",
        },
      );
      return new Guard(cfg, undefined);
    }
    return new Guard(cfg, await createVerifier(cfg.auth));
  }

  get authOn(): boolean {
    return this.#verifier !== undefined;
  }

  /**
   * The token of a request: `Authorization: Bearer` (HTTP) or `?token=` (browsers cannot set
   * headers on a WebSocket).
   */
  static tokenOf(req: RequestHead): string | undefined {
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.header("authorization") ?? "")?.[1];
    const query = req.query.get("token");
    return bearer ?? (query === null || query === "" ? undefined : query);
  }

  /**
   * The caller a request proves. A bad token is refused even where anonymous
   * callers are welcome, so a client learns its token is wrong. `selfName` is
   * what the client calls itself, honoured only with auth off.
   */
  async caller(req: RequestHead, selfName?: string): Promise<Caller> {
    const token = Guard.tokenOf(req);
    if (this.#verifier === undefined) return anonymous(selfName);
    if (token === undefined) return anonymous();
    return await this.#verifier.verify(token);
  }

  /**
   * The caller, when that is known without waiting: auth off, no token, or a
   * token verified recently. Lets an upgrade stay synchronous in the common
   * case of many connections with one token; undefined means: await `caller`.
   */
  knownCaller(req: RequestHead, selfName?: string): Caller | undefined {
    if (this.#verifier === undefined) return anonymous(selfName);
    const token = Guard.tokenOf(req);
    return token === undefined ? anonymous() : this.#verifier.cached(token);
  }

  /** A token sent on a live connection (`{"op":"auth"}`): must be valid and name the same `sub`. */
  async refresh(current: Caller, token: string): Promise<Caller> {
    if (this.#verifier === undefined) return current;
    const next = await this.#verifier.verify(token);
    if (isAuthenticated(current) && next.sub !== current.sub) {
      throw new JetmeshError(
        "forbidden",
        `a connection keeps its identity: this one is ${current.sub}, the token is for ${next.sub}`,
      );
    }
    return next;
  }

  /**
   * Refuses a WebSocket upgrade from a web page of another origin (cross-site WebSocket
   * hijacking).
   */
  checkOrigin(req: RequestHead): void {
    const origin = req.header("origin");
    if (origin === undefined || this.#cfg.allowedOrigins.includes("*")) return;
    if (this.#cfg.allowedOrigins.includes(origin)) return;
    const host = req.header("host");
    if (
      this.#cfg.allowedOrigins.length === 0 && host !== undefined &&
      (origin === `http://${host}` || origin === `https://${host}`)
    ) return;
    throw new JetmeshError(
      "forbidden",
      `origin ${origin} is not allowed; list it in JETMESH_ALLOWED_ORIGINS`,
    );
  }

  /** The client's address: the peer, or what the trusted proxy says. */
  clientAddress(req: RequestHead): string {
    const name = this.#cfg.clientAddressHeader;
    const forwarded = name === undefined ? undefined : req.header(name)?.split(",").at(-1)?.trim();
    return forwarded || req.remoteAddress;
  }

  /**
   * Throws `unauthorized` or `forbidden` unless the caller may do `action` on the channel or
   * pattern.
   */
  authorize(caller: Caller, action: Action, channel: string): ResolvedNamespace {
    this.policy.authorize(caller, action, channel);
    return this.policy.resolve(channel);
  }

  /**
   * Takes one of the caller's tokens for `kind` in the channel's namespace; throws
   * `rate_limited` when there is none.
   */
  limit(caller: Caller, address: string, kind: Limited, ns: ResolvedNamespace): void {
    const who = isAuthenticated(caller) ? `sub:${caller.sub}` : `addr:${address}`;
    const rate = kind === "publish" ? ns.limits.publishRate : ns.limits.commandRate;
    this.#limiter.take(
      `${who}|${ns.name}|${kind}`,
      rate,
      `${kind === "publish" ? "publishes" : "commands"} in namespace ${ns.name}`,
    );
  }
}
