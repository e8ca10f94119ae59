export type * from "./frames.ts";
export { errorFrame, idOf, parsePub, parsePublisherFrame, parseSubscriberFrame } from "./parse.ts";
export { byteLength, readFrame } from "./read.ts";
