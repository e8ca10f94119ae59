export { type EdgeConfig, readEdgeConfig } from "./config.ts";
export { ConnectionCounter } from "./connections.ts";
export { Guard, type Limited, type RequestHead } from "./guard.ts";
export { CLOSE_TOKEN_EXPIRED, type Expiry, TOKEN_EXPIRED_REASON, watchExpiry } from "./expiry.ts";
