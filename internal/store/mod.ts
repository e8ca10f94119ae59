export type { EventRow, Store } from "./types.ts";
export { openStore } from "./postgres.ts";
export { type EmbeddedOptions, type EmbeddedPostgres, startEmbeddedPostgres } from "./embedded.ts";
