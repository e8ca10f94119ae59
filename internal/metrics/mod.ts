export * from "./catalog.ts";
export { consumerLag, natsConnected, streamMessages } from "./jetstream.ts";
export { createRegistry } from "./registry.ts";
export type { Registry } from "prom-client";
