import { collectDefaultMetrics, Registry } from "prom-client";

/**
 * One registry per service rather than prom-client's global one, so services
 * started together in one process (tests) keep their numbers apart. Every
 * series carries `service`, which the dashboard groups by.
 */
export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  // Process CPU, memory, event loop lag and GC: the first things to look at when a service lags.
  collectDefaultMetrics({ register: registry });
  return registry;
}
