export * from "./identity.ts";
export {
  type AuthConfig,
  type KeySource,
  MIN_SECRET_BYTES,
  NO_AUTH_MESSAGE,
  readAuthConfig,
} from "./config.ts";
export { createVerifier, GRANTS_CLAIM, identityOf, type Verifier } from "./verify.ts";
