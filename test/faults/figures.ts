import type { Load } from "./driver.ts";
import type { Verdict } from "./verify.ts";

export interface FaultCounts {
  /** kill -9 per process (services and nats-server nodes). */
  kills: Record<string, number>;
  /** SIGTERM per service. */
  terms: Record<string, number>;
}

/** The figures of one run as a small table, for the CI log and the closing note. */
export function formatFigures(
  o: {
    title: string;
    seed: number;
    loadSeconds: number;
    faults: FaultCounts;
    startRetries: number;
    verdict: Verdict;
    load: Load;
  },
): string {
  const { verdict: v, load } = o;
  const sum = <T>(xs: T[], f: (x: T) => number) => xs.reduce((n, x) => n + f(x), 0);
  const processes = [...new Set([...Object.keys(o.faults.kills), ...Object.keys(o.faults.terms)])];
  const width = Math.max(8, ...processes.map((p) => p.length));
  const lines = [
    `=== fault figures: ${o.title}, FAULT_SEED=${o.seed}, ${o.loadSeconds.toFixed(0)} s under load`,
    `${"process".padEnd(width)}  kill -9  SIGTERM`,
    ...processes.map((p) =>
      `${p.padEnd(width)}  ${String(o.faults.kills[p] ?? 0).padStart(7)}  ${
        String(o.faults.terms[p] ?? 0).padStart(7)
      }`
    ),
    `events: published ${v.published}, acked ${v.acked}, stored ${v.stored}, ` +
    `delivered ${v.delivered} of ${v.expectedDeliveries} (${load.subscribers.length} subscribers), ` +
    `duplicates ${v.duplicates}, gaps ${v.gaps}, lost ${v.lost.length}, out of order ${
      v.storeOrder.length + v.deliveryOrder.length
    }`,
    `clients: ${load.publishers.length} publishers on ${load.channels.length} channels, ` +
    `resends ${sum(load.publishers, (p) => p.stats.resends)}, dup acks ${
      sum(load.publishers, (p) => p.stats.dupAcks)
    }, ` +
    `unavailable ${sum(load.publishers, (p) => p.stats.unavailable)}, overloaded ${
      sum(load.publishers, (p) => p.stats.overloaded)
    }, ` +
    `publisher reconnects ${
      sum(load.publishers, (p) => p.stats.reconnects)
    }, subscriber reconnects ${sum(load.subscribers, (s) => s.stats.reconnects)}, ` +
    `dropped at cursor ${
      sum(load.subscribers, (s) => s.stats.droppedAtCursor)
    }, service starts retried ${o.startRetries}`,
  ];
  return lines.join("\n");
}
