export { type Rate, RateLimiter } from "./bucket.ts";
