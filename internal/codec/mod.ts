export { packValue, unpackValue } from "./msgpack.ts";
export { contentTypeOf, decodeFrame, type Encoding, encodeFrame, encodingOfContentType } from "./frame.ts";
