import type { StreamSettings } from "../../subjects/mod.ts";
import {
  type CommonConfig,
  type DatabaseConfig,
  type Env,
  EnvReader,
  readCommon,
  readDatabase,
  readStreamLimits,
} from "../config/mod.ts";

export interface ReplayConfig {
  common: CommonConfig;
  streams: StreamSettings;
  database: DatabaseConfig;
  service?: string;
  dryRun: boolean;
}

/**
 * Environment as for the services, plus `--service route|persist` and `--dry-run` from the
 * command line.
 */
export function readReplayConfig(env: Env, args: string[]): ReplayConfig {
  const r = new EnvReader(env);
  const i = args.indexOf("--service");
  const service = i >= 0 ? args[i + 1] : undefined;
  r.check(
    "--service",
    service === undefined || service === "route" || service === "persist",
    "route or persist",
  );
  const cfg: ReplayConfig = {
    common: readCommon(r),
    streams: readStreamLimits(r),
    database: readDatabase(r),
    service,
    dryRun: args.includes("--dry-run"),
  };
  r.done();
  return cfg;
}
