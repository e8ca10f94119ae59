export { type ReplayConfig, readReplayConfig } from "./config.ts";
export { replayDlq, type ReplayOptions, type ReplayResult } from "./replay.ts";
