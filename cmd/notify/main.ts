import { runMain } from "../../internal/lifecycle/mod.ts";
import { startNotify } from "../../internal/notify/app.ts";
import { readNotifyConfig } from "../../internal/notify/config.ts";

await runMain("notify", readNotifyConfig, startNotify);
