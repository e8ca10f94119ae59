import {
  dbBatchRows,
  dbCommitSeconds,
  dbErrors,
  eventsAcked,
  eventsDeadLettered,
  eventsReceived,
  eventsRedelivered,
  type Registry,
} from "../metrics/mod.ts";

export function persistMetrics(reg: Registry) {
  return {
    received: eventsReceived(reg),
    redelivered: eventsRedelivered(reg),
    acked: eventsAcked(reg),
    deadLettered: eventsDeadLettered(reg),
    batchRows: dbBatchRows(reg),
    commitSeconds: dbCommitSeconds(reg),
    dbErrors: dbErrors(reg),
  };
}

export type PersistMetrics = ReturnType<typeof persistMetrics>;
