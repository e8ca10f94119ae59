export { EnvReader, parseDuration, type Env } from "./env.ts";
export {
  type CommonConfig,
  type DatabaseConfig,
  type ListenConfig,
  readCommon,
  readDatabase,
  readListen,
  readStreamLimits,
  type StreamLimits,
} from "./common.ts";
