import t from "tap";
import { EnvReader } from "./env.ts";
import { readListen, readOpsListen } from "./common.ts";

function ops(env: Record<string, string>) {
  const r = new EnvReader(env);
  const listen = readOpsListen(r, "INGEST", 9090, readListen(r, "INGEST", 8080));
  r.done();
  return listen;
}

t.test("the operations listener: its own port, the service's host unless set apart", async (t) => {
  t.same(ops({}), { host: "0.0.0.0", port: 9090 }, "defaults");
  t.same(
    ops({ INGEST_HOST: "10.0.0.5" }),
    { host: "10.0.0.5", port: 9090 },
    "where the kubelet reaches the service, it reaches the probes",
  );
  t.same(ops({ INGEST_HOST: "0.0.0.0", INGEST_OPS_HOST: "127.0.0.1", INGEST_OPS_PORT: "9100" }), {
    host: "127.0.0.1",
    port: 9100,
  });
  t.same(
    ops({ INGEST_PORT: "0", INGEST_OPS_PORT: "0" }),
    { host: "0.0.0.0", port: 0 },
    "both on free ports",
  );
  t.throws(() => ops({ INGEST_PORT: "9090" }), {
    code: "bad_config",
    message: /INGEST_OPS_PORT="": expected a port other than INGEST_PORT=9090 \(unset: 9090\)/,
  });
});
