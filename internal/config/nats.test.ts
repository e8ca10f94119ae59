import t from "tap";
import { readCommon } from "./common.ts";
import { EnvReader } from "./env.ts";

const read = (env: Record<string, string>) => {
  const r = new EnvReader(env);
  const cfg = readCommon(r);
  r.done();
  return cfg.nats;
};

t.test("NATS credentials: a user and password, a token, or none", async (t) => {
  t.same(read({ NATS_URL: "nats://a:4222,nats://b:4222" }), {
    servers: ["nats://a:4222", "nats://b:4222"],
    auth: undefined,
  });
  t.same(read({ NATS_USER: "route", NATS_PASSWORD: "s3cret" }).auth, {
    user: "route",
    pass: "s3cret",
  });
  t.same(read({ NATS_TOKEN: "t0ken" }).auth, { token: "t0ken" });
  t.throws(
    () => read({ NATS_USER: "route" }),
    /NATS_PASSWORD="": expected set together with NATS_USER/,
  );
  t.throws(
    () => read({ NATS_PASSWORD: "x" }),
    /NATS_PASSWORD="x": expected set together with NATS_USER/,
  );
  t.throws(
    () => read({ NATS_TOKEN: "t", NATS_USER: "u", NATS_PASSWORD: "p" }),
    /NATS_TOKEN="t": expected either NATS_TOKEN or NATS_USER\/NATS_PASSWORD, not both/,
  );
});
