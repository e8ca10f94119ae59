export * from "./types.ts";
export { NamespacesError, parseNamespaces } from "./parse.ts";
export { loadNamespaces, readNamespaces } from "./load.ts";
export { Policy, type ResolvedNamespace } from "./policy.ts";
