export * from "./types.ts";
export { NamespacesError, parseNamespaces } from "./parse.ts";
export { loadNamespaces, NAMESPACES_VAR, readNamespaces } from "./load.ts";
export { Policy, type ResolvedNamespace } from "./policy.ts";
