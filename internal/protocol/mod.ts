export type * from "./frames.ts";
export { errorFrame, idOf, parsePub, parseSubscriberFrame } from "./parse.ts";
export { byteLength, type ReadFrame, readFrame } from "./read.ts";
