export { KeyedSerial } from "./keyed-serial.ts";
