import { startIngest } from "../../internal/ingest/app.ts";
import { readIngestConfig } from "../../internal/ingest/config.ts";
import { runMain } from "../../internal/lifecycle/mod.ts";

await runMain("ingest", readIngestConfig, startIngest);
