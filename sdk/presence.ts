/** A membership change as the server reports it. */
export interface PresenceChange {
  type: "join" | "leave";
  member: string;
}

/**
 * Who is in a channel, kept current: the server's list on every (re)connect,
 * then its join and leave changes.
 */
export class PresenceWatch {
  readonly channel: string;
  /**
   * Resolves with the first list from the server; rejects when it refused the watch (a limit,
   * a bad channel).
   */
  readonly ready: Promise<void>;
  readonly #stop: () => void;
  #confirm!: () => void;
  #refuse!: (err: Error) => void;
  readonly #listeners = new Set<(members: string[], change?: PresenceChange) => void>();
  #members: string[] = [];

  constructor(channel: string, stop: () => void) {
    this.channel = channel;
    this.#stop = stop;
    this.ready = new Promise<void>((resolve, reject) => {
      this.#confirm = resolve;
      this.#refuse = reject;
    });
    this.ready.catch(() => {});
  }

  /** Sorted member ids. */
  get members(): string[] {
    return [...this.#members];
  }

  /**
   * Called with the new list on every change: `change` says what changed, absent when a fresh
   * list replaced it.
   */
  onChange(listener: (members: string[], change?: PresenceChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    this.#listeners.clear();
    this.#stop();
  }

  /** A full list from the server. */
  reset(members: string[]): void {
    this.#confirm();
    const sorted = [...members].sort();
    if (sorted.join("\n") === this.#members.join("\n")) return;
    this.#members = sorted;
    this.#emit();
  }

  fail(err: Error): void {
    this.#refuse(err);
    this.#listeners.clear();
  }

  apply(change: PresenceChange): void {
    const has = this.#members.includes(change.member);
    if (change.type === "join" && !has) this.#members = [...this.#members, change.member].sort();
    else if (change.type === "leave" && has) {
      this.#members = this.#members.filter((m) => m !== change.member);
    } else return;
    this.#emit(change);
  }

  #emit(change?: PresenceChange): void {
    for (const listener of [...this.#listeners]) listener(this.members, change);
  }
}
