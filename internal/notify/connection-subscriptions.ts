/**
 * A connection's subscriptions by channel. Most connections hold one, and a
 * Map with its hash table costs more than the subscription itself (heap
 * snapshots of 4000 idle connections: ≈180 B each), so the first entry is
 * kept inline and a Map is made only for a second one. Only identity matters
 * here, so the element type is the caller's.
 */
export class Subscriptions<Sub> {
  #channel: string | undefined = undefined;
  #sub: Sub | undefined = undefined;
  #more: Map<string, Sub> | undefined = undefined;

  get size(): number {
    return (this.#sub === undefined ? 0 : 1) + (this.#more?.size ?? 0);
  }

  get(channel: string): Sub | undefined {
    return this.#channel === channel ? this.#sub : this.#more?.get(channel);
  }

  set(channel: string, sub: Sub): void {
    if (this.#sub === undefined || this.#channel === channel) {
      // The inline slot is free or already this channel's; the Map must not hold it too.
      if (this.#more?.delete(channel)) this.#dropEmptyMap();
      this.#channel = channel;
      this.#sub = sub;
      return;
    }
    (this.#more ??= new Map()).set(channel, sub);
  }

  delete(channel: string): boolean {
    if (this.#sub !== undefined && this.#channel === channel) {
      this.#channel = undefined;
      this.#sub = undefined;
      return true;
    }
    const deleted = this.#more?.delete(channel) ?? false;
    if (deleted) this.#dropEmptyMap();
    return deleted;
  }

  *values(): IterableIterator<Sub> {
    if (this.#sub !== undefined) yield this.#sub;
    if (this.#more) yield* this.#more.values();
  }

  clear(): void {
    this.#channel = undefined;
    this.#sub = undefined;
    this.#more = undefined;
  }

  #dropEmptyMap(): void {
    if (this.#more?.size === 0) this.#more = undefined;
  }
}
