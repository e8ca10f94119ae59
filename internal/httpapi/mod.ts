export { errorResponse, healthz, jsonResponse } from "./respond.ts";
export { metricsHandler, opsRoutes, type ReadinessCheck, readyz, startOpsServer } from "./ops.ts";
