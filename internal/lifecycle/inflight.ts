/**
 * Work accepted from clients and not yet answered; shutdown waits for it so no accepted event
 * goes unacked.
 */
export class Inflight {
  readonly #pending = new Set<Promise<unknown>>();

  track(p: Promise<unknown>): void {
    this.#pending.add(p);
    p.finally(() => this.#pending.delete(p)).catch(() => {});
  }

  get size(): number {
    return this.#pending.size;
  }

  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }
}
