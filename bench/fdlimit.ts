/**
 * Node cannot raise its own file-descriptor limit, and the idle phase needs
 * every descriptor the hard limit allows. So the bench re-executes itself
 * under `ulimit -n <hard>`; every process it starts inherits that limit.
 */
import { spawnSync } from "node:child_process";
import { fdLimits } from "./proc.ts";

const MARK = "JETMESH_BENCH_FD_RAISED";
/** `ulimit -n unlimited` is refused for descriptors; this is Linux's usual nr_open. */
const UNLIMITED = 1_048_576;

/**
 * Returns when the soft limit already equals the hard one; otherwise runs the bench again under
 * the raised limit and exits with its code.
 */
export function raiseFdLimitOrReexec(): void {
  const { soft, hard } = fdLimits();
  if (soft >= hard || process.env[MARK]) return;
  const limit = Number.isFinite(hard) ? hard : UNLIMITED;
  const r = spawnSync("/bin/sh", [
    "-c",
    `ulimit -n ${limit} && exec "$0" "$@"`,
    process.execPath,
    ...process.execArgv,
    ...process.argv.slice(1),
  ], {
    stdio: "inherit",
    env: { ...process.env, [MARK]: "1" },
  });
  process.exit(r.status ?? 1);
}
