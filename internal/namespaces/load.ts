import { readFileSync } from "node:fs";
import { parse } from "yaml";
import type { EnvReader } from "../config/env.ts";
import { NamespacesError, parseNamespaces } from "./parse.ts";
import type { NamespacesConfig } from "./types.ts";

const NAMESPACES_VAR = "JETMESH_NAMESPACES";

/** Reads and validates a namespaces file (YAML, or JSON, which YAML includes). */
export function loadNamespaces(path: string): NamespacesConfig {
  const text = readFileSync(path, "utf8");
  // Aliases could expand a small file into a huge tree; a policy file has no need of them.
  return parseNamespaces(parse(text, { maxAliasCount: 0 }));
}

/**
 * The namespaces file named by JETMESH_NAMESPACES, or none (token grants and default limits
 * only).
 */
export function readNamespaces(r: EnvReader): NamespacesConfig {
  const path = r.optional(NAMESPACES_VAR);
  if (path === undefined) return parseNamespaces(undefined);
  try {
    return loadNamespaces(path);
  } catch (err) {
    const detail = err instanceof NamespacesError
      ? err.problems.join("; ")
      : (err as Error).message;
    r.check(NAMESPACES_VAR, false, `a valid namespaces file (${detail})`);
    return parseNamespaces(undefined);
  }
}
