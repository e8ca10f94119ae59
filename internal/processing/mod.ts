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
export {
  type PlannedOutput,
  planOutputs,
  PROCESSING_PUBLISHER,
  ProcessingConfigError,
  ProcessingSet,
} from "./route-step.ts";
export { type PartitionOptions, PartitionProcessor, type StepResult } from "./partition.ts";
// checkpoint.ts talks to NATS: the one module here that is not pure.
export { CHECKPOINT_BUCKET, CHECKPOINT_BUCKET_CONFIG } from "../../subjects/buckets.ts";
export {
  CheckpointConflictError,
  CheckpointCorruptError,
  CheckpointStore,
  ensureCheckpointBucket,
  PartitionCheckpoint,
} from "./checkpoint.ts";
export {
  type CheckpointedOptions,
  CheckpointedPartition,
  PartitionLostError,
} from "./checkpointed.ts";
