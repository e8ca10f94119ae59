import t from "tap";
import { createServer } from "node:net";
import { freePort, freePorts, isPortFree } from "./ports.ts";

t.test("freePort returns a bindable port", async (t) => {
  const port = await freePort();
  t.ok(port > 0 && port < 65536);
  t.ok(await isPortFree(port));
});

t.test("freePorts returns distinct ports", async (t) => {
  const ports = await freePorts(6);
  t.equal(new Set(ports).size, 6);
});

t.test("isPortFree sees a listener", async (t) => {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const addr = srv.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  t.notOk(await isPortFree(port));
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  t.ok(await isPortFree(port));
});
