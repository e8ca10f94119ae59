import { JetmeshError } from "../errors/mod.ts";
import type { ConnectionLimits } from "../namespaces/mod.ts";

/** Open connections per client address and per identity, so one client cannot take every slot. */
export class ConnectionCounter {
  readonly #limits: ConnectionLimits;
  readonly #byAddress = new Map<string, number>();
  readonly #bySub = new Map<string, number>();

  constructor(limits: ConnectionLimits) {
    this.#limits = limits;
  }

  /** Throws `limit_exceeded` when another connection would pass a limit. */
  check(address: string, sub: string | undefined): void {
    if ((this.#byAddress.get(address) ?? 0) >= this.#limits.perAddress) {
      throw new JetmeshError(
        "limit_exceeded",
        `at most ${this.#limits.perAddress} connections per client address`,
      );
    }
    if (sub !== undefined && (this.#bySub.get(sub) ?? 0) >= this.#limits.perIdentity) {
      throw new JetmeshError(
        "limit_exceeded",
        `at most ${this.#limits.perIdentity} connections per identity`,
      );
    }
  }

  /**
   * Counts an opened connection; false (and nothing counted) when it is over a
   * limit after all, which concurrent upgrades that each passed `check` can be.
   */
  open(address: string, sub: string | undefined): boolean {
    try {
      this.check(address, sub);
    } catch {
      return false;
    }
    this.#byAddress.set(address, (this.#byAddress.get(address) ?? 0) + 1);
    if (sub !== undefined) this.#bySub.set(sub, (this.#bySub.get(sub) ?? 0) + 1);
    return true;
  }

  close(address: string, sub: string | undefined): void {
    dec(this.#byAddress, address);
    if (sub !== undefined) dec(this.#bySub, sub);
  }
}

function dec(m: Map<string, number>, key: string): void {
  const n = (m.get(key) ?? 0) - 1;
  if (n <= 0) m.delete(key);
  else m.set(key, n);
}
