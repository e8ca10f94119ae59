export { EnvReader, parseDuration, type Env } from "./env.ts";
export {
  type CommonConfig,
  type DatabaseConfig,
  type ListenConfig,
  readCommon,
  readDatabase,
  readListen,
  readServiceBase,
  readStreamLimits,
  type ServiceBase,
} from "./common.ts";
