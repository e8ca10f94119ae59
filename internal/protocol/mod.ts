export type * from "./frames.ts";
export {
  errorFrame,
  idOf,
  MAX_TOKEN_LENGTH,
  parsePub,
  parsePublisherFrame,
  parseSubscriberFrame,
} from "./parse.ts";
export { byteLength, type ReadFrame, readFrame } from "./read.ts";
