export { errorResponse, healthz, jsonResponse, retryAfterHeader } from "./respond.ts";
export { metricsHandler, opsRoutes, type ReadinessCheck, readyz, startOpsServer } from "./ops.ts";
