/**
 * An abusive producer, run as its own process so its loop does not share the
 * test's event loop: publishes as fast as its socket takes them for a while,
 * reconnecting at once whenever it is closed or refused, reads every answer,
 * then prints a JSON tally of what happened on stdout and exits.
 * Usage: node --import tsx test/faults/flooder.ts WS_URL SECONDS
 */
import WebSocket from "ws";

const [url, seconds] = process.argv.slice(2);
const end = Date.now() + Number(seconds) * 1000;
const tally: Record<string, number> = { sent: 0 };
const count = (key: string) => (tally[key] = (tally[key] ?? 0) + 1);
const frame = (i: number) =>
  JSON.stringify({ op: "pub", id: `f${i}`, channel: "chat.flood", data: { i } });

/** One connection, flooded until it closes or time is up. */
async function session(): Promise<void> {
  const ws = new WebSocket(url);
  let open = true;
  ws.on("message", (data: Buffer) => {
    const f = JSON.parse(data.toString("utf8")) as { op: string; code?: string };
    count(f.op === "error" ? f.code! : f.op);
  });
  ws.on("close", (code: number) => {
    if (open) count(`closed ${code}`);
    open = false;
  });
  const opened = await new Promise<boolean>((resolve) => {
    ws.once("open", () => resolve(true));
    ws.once("unexpected-response", (_req, res) => {
      count(`upgrade ${res.statusCode}`);
      open = false;
      resolve(false);
    });
    ws.once("error", () => resolve(false));
  });
  if (!opened) return;
  count("connected");
  while (open && Date.now() < end) {
    // As fast as the socket drains, without buffering without bound on this side.
    // A bounded batch per turn: a socket that writes synchronously never shows a buffer, and
    // the close must get its turn.
    for (let i = 0; i < 1000 && ws.bufferedAmount < 256 * 1024; i++) ws.send(frame(tally.sent++));
    await new Promise((r) => setImmediate(r));
  }
  // The last answers arrive after the last frame.
  if (open) await new Promise((r) => setTimeout(r, 500));
  open = false;
  ws.close();
}

while (Date.now() < end) await session();
console.log(JSON.stringify(tally));
// Refused upgrades may leave sockets behind; the tally is all this process is for.
process.exit(0);
