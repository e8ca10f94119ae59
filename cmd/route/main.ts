import { runMain } from "../../internal/lifecycle/mod.ts";
import { startRoute } from "../../internal/route/app.ts";
import { readRouteConfig } from "../../internal/route/config.ts";

await runMain("route", readRouteConfig, startRoute);
