/**
 * An OTLP/HTTP receiver in its own process for bench/tracing-overhead.ts, so
 * decoding the exports does not run on the event loop being measured. Prints
 * its base URL on the first line of stdout, then counts spans until killed.
 */
import { startOtlpReceiver } from "../devkit/otlp-receiver.ts";

const rx = await startOtlpReceiver();
console.log(rx.url);
// The benchmark asks how many spans arrived: one line per stdin line.
process.stdin.on("data", () => console.log(String(rx.spans.length)));
