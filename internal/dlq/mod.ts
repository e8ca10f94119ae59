export { readReplayConfig, type ReplayConfig } from "./config.ts";
export { replayDlq, type ReplayOptions, type ReplayResult } from "./replay.ts";
