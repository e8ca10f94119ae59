export { formatReport } from "./format.ts";
export { type ConsumerRow, inspect, type Report, type StreamRow } from "./report.ts";
