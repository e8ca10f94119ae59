export { Inflight } from "./inflight.ts";
export { runMain } from "./main.ts";
export type { RunningService } from "./service.ts";
export { exitOnStartFailure, stopOnSignals } from "./signals.ts";
