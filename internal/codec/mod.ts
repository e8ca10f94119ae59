export { packValue, unpackValue } from "./msgpack.ts";
export {
  contentTypeOf,
  decodeFrame,
  encodeFrame,
  type Encoding,
  encodingOfContentType,
} from "./frame.ts";
