export * from "./types.ts";
export {
  type CompiledRule,
  type CompiledRules,
  type CompileResult,
  compileRules,
} from "./compile.ts";
export {
  Engine,
  ids,
  type Input,
  type Output,
  type OutputKind,
  type ProcessResult,
} from "./engine.ts";
export {
  decodeSnapshot,
  encodeSnapshot,
  type EngineSnapshot,
  restore,
  type Restored,
  snapshot,
} from "./snapshot.ts";
