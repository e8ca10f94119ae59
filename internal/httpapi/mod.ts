export { errorResponse, healthz, jsonResponse, retryAfterHeader } from "./respond.ts";
export { opsRoutes, type ReadinessCheck, startOpsServer } from "./ops.ts";
