export * from "./buckets.ts";
export * from "./channel.ts";
export * from "./consumers.ts";
export * from "./cursor.ts";
export * from "./envelope.ts";
export * from "./headers.ts";
export * from "./presence.ts";
export * from "./streams.ts";
