import { runMain } from "../../internal/lifecycle/mod.ts";
import { startPersist } from "../../internal/persist/app.ts";
import { readPersistConfig } from "../../internal/persist/config.ts";

await runMain("persist", readPersistConfig, startPersist);
