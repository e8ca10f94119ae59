/**
 * What a route process says in its log about its partitions: the e2e tests, the fault suite and
 * the bench read who holds what from it.
 */
import type { ServiceProcess } from "./service-process.ts";

/** A pin came to the process (first start, failover, hand-over). */
export const PARTITION_GAINED = /^partition taken over$/;
/** The balancer gave a partition away. */
export const PARTITION_HANDED_OVER = /^partition handed over$/;

/** Partitions `p` holds now: taken over less handed over. */
export function heldPartitions(p: ServiceProcess): number {
  return p.countLogs(PARTITION_GAINED) - p.countLogs(PARTITION_HANDED_OVER);
}
