export { type MigrateConfig, readMigrateConfig } from "./config.ts";
export { migrate, type MigrateOptions, type Step } from "./migrate.ts";
export { runMigrate } from "./run.ts";
