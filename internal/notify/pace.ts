import { JetmeshError } from "../errors/mod.ts";
import type { ReplayLimits } from "../namespaces/mod.ts";

/** Waits shorter than this are saved up: a timer per event would cost more than the events. */
const MIN_WAIT_MS = 20;

/**
 * The replay limits of a resumed subscription's namespace, applied to its
 * catch-up: the first event it would replay must be younger than `maxAgeMs`
 * (an older cursor asks for more work than the namespace allows), and events
 * go out at most `eventsPerSecond`, so one client's resume from far back
 * cannot take the bus, the database and the process's CPU from the others.
 */
export class Pace {
  readonly #limits: ReplayLimits;
  readonly #namespace: string;
  readonly #now: () => number;
  #startedAt = 0;
  #sent = 0;

  constructor(limits: ReplayLimits, namespace: string, now: () => number = Date.now) {
    this.#limits = limits;
    this.#namespace = namespace;
    this.#now = now;
  }

  /**
   * Accounts one event received at `ts` (epoch ms); returns how long to wait
   * before sending it. Throws `limit_exceeded` when the first one is too old.
   */
  next(ts: number): number {
    const now = this.#now();
    if (this.#sent === 0) {
      const { maxAgeMs } = this.#limits;
      if (ts < now - maxAgeMs) {
        throw new JetmeshError(
          "limit_exceeded",
          `the cursor is older than namespace ${this.#namespace} replays (${
            formatAge(maxAgeMs)
          }); ` +
            "subscribe without a cursor, or page older events from GET /v1/history",
        );
      }
      this.#startedAt = now;
    }
    // One second's worth goes at once, so a short catch-up is not slowed at all.
    const due = this.#startedAt +
      ((this.#sent - this.#limits.eventsPerSecond) * 1000) / this.#limits.eventsPerSecond;
    this.#sent++;
    const wait = due - now;
    return wait >= MIN_WAIT_MS ? Math.ceil(wait) : 0;
  }
}

function formatAge(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${ms / 1000}s`;
}
