export * from "./identity.ts";
export { type AuthConfig, type KeySource, MIN_SECRET_BYTES, readAuthConfig } from "./config.ts";
export { createVerifier, GRANTS_CLAIM, type Verifier } from "./verify.ts";
