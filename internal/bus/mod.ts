export {
  type BusConnection,
  type BusOptions,
  connectBus,
  inboxPrefix,
  onReconnect,
} from "./connect.ts";
export { type BatchLoopOptions, consumeBatches } from "./batches.ts";
export { deadLetter } from "./dlq.ts";
export { type Bus, openBus } from "./open.ts";
export {
  PipelinedPublisher,
  type PublishOptions,
  statusError,
  type StreamPublisher,
} from "./pipeline.ts";
export {
  backoffMs,
  isRetryable,
  isStreamFull,
  publishWithRetry,
  type RetryOptions,
  sleep,
  withRetry,
} from "./retry.ts";
export { durableOpener, ensureConsumer, ensureStreams, streamEpoch } from "./streams.ts";
export { openBucket, requirePartitions, requireStreams } from "./require.ts";
export { busChecks } from "./ready.ts";
export { dropPin, pinOf } from "./pins.ts";
