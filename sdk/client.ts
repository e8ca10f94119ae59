import type { PresenceWatch } from "./presence.ts";
import { IngestClient } from "./ingest-client.ts";
import { type SubscribeOptions, Subscriber } from "./subscriber.ts";
import type { Subscription } from "./subscription.ts";
import { type Ack, type ConnectionState, JetmeshClientError, type SocketOptions } from "./types.ts";

export interface ClientOptions extends SocketOptions {
  /** Ingest's WebSocket URL; without it the client cannot publish. */
  ingestUrl?: string;
  /** Notify's WebSocket URL; without it the client cannot subscribe. */
  notifyUrl?: string;
  /**
   * Who publishes, when ingest runs without tokens (development); with tokens, the token's
   * `sub` does.
   */
  publisher?: string;
}

/**
 * Both halves of jetmesh behind one object: an IngestClient on ingest and a
 * Subscriber on notify, each with its own connection (and its own use of
 * `token` / `getToken`), and one combined state.
 */
export class JetmeshClient {
  readonly publisher: IngestClient | undefined;
  readonly subscriber: Subscriber | undefined;

  constructor(o: ClientOptions) {
    if (!o.ingestUrl && !o.notifyUrl) throw new Error("give ingestUrl, notifyUrl or both");
    this.publisher = o.ingestUrl ? new IngestClient({ ...o, url: o.ingestUrl }) : undefined;
    this.subscriber = o.notifyUrl ? new Subscriber({ ...o, url: o.notifyUrl }) : undefined;
  }

  /**
   * `closed` once closed; otherwise the least ready of the connections:
   * `reconnecting` if one is, then `connecting`, else `open`.
   */
  get state(): ConnectionState {
    const states = this.#parts().map((p) => p.state);
    for (const s of ["closed", "reconnecting", "connecting"] as const) {
      if (states.includes(s)) return s;
    }
    return "open";
  }

  /** Calls `listener` whenever the combined state changes. */
  onState(listener: (state: ConnectionState) => void): () => void {
    let last = this.state;
    const stops = this.#parts().map((p) =>
      p.onState(() => {
        const now = this.state;
        if (now === last) return;
        last = now;
        listener(now);
      })
    );
    return () => stops.forEach((stop) => stop());
  }

  /** Token problems of either connection: refused, not renewable, getToken failing. */
  onError(listener: (err: JetmeshClientError) => void): () => void {
    const stops = this.#parts().map((p) => p.onError(listener));
    return () => stops.forEach((stop) => stop());
  }

  publish(channel: string, data: unknown, opts?: { id?: string }): Promise<Ack> {
    if (!this.publisher) {
      return Promise.reject(
        new JetmeshClientError("bad_config", "no ingestUrl: this client cannot publish"),
      );
    }
    return this.publisher.publish(channel, data, opts);
  }

  subscribe(channel: string, opts?: SubscribeOptions): Subscription {
    return this.#notify().subscribe(channel, opts);
  }

  join(channel: string, member: string): Promise<void> {
    return this.#notify().join(channel, member);
  }

  leave(channel: string): Promise<void> {
    return this.#notify().leave(channel);
  }

  presence(channel: string): PresenceWatch {
    return this.#notify().presence(channel);
  }

  close(): void {
    this.publisher?.close();
    this.subscriber?.close();
  }

  #parts(): Array<IngestClient | Subscriber> {
    return [this.publisher, this.subscriber].filter((p): p is IngestClient | Subscriber =>
      p !== undefined
    );
  }

  #notify(): Subscriber {
    if (!this.subscriber) throw new Error("no notifyUrl: this client cannot subscribe");
    return this.subscriber;
  }
}
