// Every metric the Grafana dashboard queries must be one the services really
// export: run the real stack, scrape /metrics of all four, compare.
import t from "tap";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { TestClient } from "../../devkit/test-client.ts";
import { startStack } from "../../devkit/in-process-stack.ts";
import { SERVICE_NAMES } from "../../devkit/catalog.ts";
import { exportedNames } from "../../devkit/prometheus.ts";

const here = new URL(".", import.meta.url).pathname;

interface Panel {
  title: string;
  type: string;
  targets?: Array<{ expr: string }>;
}

/**
 * Metric names in a PromQL expression: identifiers that are not functions, keywords or label
 * names.
 */
function metricNames(expr: string): string[] {
  const noStrings = expr.replace(/"[^"]*"/g, '""').replace(/\{[^}]*\}/g, "{}").replace(
    /\b(by|without)\s*\([^)]*\)/g,
    "",
  );
  return [...noStrings.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)]
    .map((m) => m[1])
    .filter((n) => n.includes("_") && !/^\d/.test(n));
}

t.test("the dashboard's queries name metrics the services export", async (t) => {
  const dashboard = JSON.parse(
    readFileSync(join(here, "grafana/dashboards/jetmesh.json"), "utf8"),
  ) as { panels: Panel[] };
  const panels = dashboard.panels.filter((p) => p.type !== "row");
  const titles = dashboard.panels.filter((p) => p.type === "row").map((p) => p.title);
  for (const topic of ["Throughput", "Lag", "Latency", "Errors", "Connections"]) {
    t.ok(titles.includes(topic), `a ${topic} row`);
  }

  const stack = await startStack();
  t.teardown(stack.stop);
  // Traffic first, so that labelled series exist too.
  const sub = await TestClient.open(stack.notifyWs);
  t.teardown(() => sub.close());
  sub.sendJson({ op: "sub", channel: "dash.a" });
  await sub.next((f) => f.op === "subscribed");
  const pub = await TestClient.open(`${stack.ingestWs}?publisher=d`);
  t.teardown(() => pub.close());
  for (let i = 0; i < 5; i++) pub.sendJson({ op: "pub", id: `d${i}`, channel: "dash.a", data: i });
  await sub.until((fs) => fs.filter((f) => f.op === "event").length === 5, 15_000, "5 events");

  const exported = new Set<string>();
  for (const svc of SERVICE_NAMES) {
    const text = await (await fetch(`${stack.opsUrl(svc)}/metrics`)).text();
    for (const n of exportedNames(text)) exported.add(n);
  }
  const used = new Set<string>();
  for (const p of panels) {
    t.ok((p.targets ?? []).length > 0, `${p.title}: has queries`);
    for (const target of p.targets ?? []) {
      const names = metricNames(target.expr);
      t.ok(names.length > 0, `${p.title}: ${target.expr} names a metric`);
      for (const n of names) {
        used.add(n);
        t.ok(exported.has(n), `${p.title}: ${n} is exported`);
      }
    }
  }
  const jetmesh = [...exported].filter((n) =>
    n.startsWith("jetmesh_") && !/_(bucket|sum|count)$/.test(n)
  );
  t.comment(
    `jetmesh metrics not on the dashboard: ${
      jetmesh.filter((n) => ![...used].some((u) => u.startsWith(n))).join(", ") || "none"
    }`,
  );
});
