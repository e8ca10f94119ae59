export { healthz, jsonResponse } from "./respond.ts";
// One error answer for the server and the handlers alike: wsserver's.
export { errorResponse, retryAfterHeader } from "../wsserver/mod.ts";
export { opsRoutes, type ReadinessCheck, startOpsServer } from "./ops.ts";
