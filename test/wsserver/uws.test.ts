import t from "tap";
import { isDeno, startServer } from "../../internal/wsserver/mod.ts";
import { scenarios } from "./scenarios.ts";

t.equal(isDeno(), false, "Node gets the uWebSockets.js server");
for (const [name, run] of Object.entries(scenarios)) t.test(name, (t) => run(startServer, t));
