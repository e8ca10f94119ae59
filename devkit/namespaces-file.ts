/** A namespaces file for a stack, in a temporary directory of its own. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TempNamespaces {
  /** For JETMESH_NAMESPACES. */
  file: string;
  /** Removes the file and its directory. */
  remove(): void;
}

/**
 * A namespaces file (internal/namespaces) in a temporary directory of its own: the stacks
 * that must never be refused by a limit (the tests, the fault suite, the bench) each write
 * theirs with limits far above their load.
 */
export function tempNamespaces(tag: string, settings: unknown): TempNamespaces {
  const dir = mkdtempSync(join(tmpdir(), `jm-${tag}-`));
  const file = join(dir, "namespaces.json");
  writeFileSync(file, JSON.stringify(settings));
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
