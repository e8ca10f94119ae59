/**
 * The examples' live pages (examples/iot/page, examples/transactions/page) in
 * chromium, on a stack of the four services with both examples' namespaces. Route
 * does not run the rules yet, so the test publishes what route will publish (window
 * results, alerts, late and flagged events) through ingest, with a token granted
 * those channels, and checks the pages show them. The pages are served by a small
 * static server here, as any web server would.
 */
import { createServer, type Server } from "node:http";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import type { Page } from "playwright-core";
import { eventually, launchChromium, SCREENSHOTS, skipWithoutChromium } from "./chromium.ts";
import t from "tap";
import { parse } from "yaml";
import { buildExamplePage } from "../../examples/page/build.ts";
import { startProcessStack } from "../../devkit/process-stack.ts";
import { jwtAuth, mintToken } from "../../devkit/tokens.ts";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript",
  ".css": "text/css",
};

const skip = skipWithoutChromium;

/** Files of `root` under their path; nothing outside it. */
function staticServer(root: string): Promise<{ server: Server; url: string }> {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname));
    const file = join(root, path.endsWith("/") ? `${path}index.html` : path);
    if (!file.startsWith(root)) return void res.writeHead(403).end();
    try {
      const body = await readFile(file);
      res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const a = server.address() as { port: number };
      resolve({ server, url: `http://127.0.0.1:${a.port}` });
    })
  );
}

/** Both examples' namespaces in one file (JSON is YAML). */
function namespacesFile(dir: string): string {
  const list = ["iot", "transactions"].flatMap((e) =>
    (parse(readFileSync(`examples/${e}/namespaces.yaml`, "utf8")) as { namespaces: unknown[] })
      .namespaces
  );
  const file = join(dir, "namespaces.json");
  writeFileSync(file, JSON.stringify({ namespaces: list }));
  return file;
}

const cells = (page: Page) =>
  page.$$eval(
    "#table tbody tr",
    (trs) => trs.map((tr) => Array.from(tr.querySelectorAll("td"), (td) => td.textContent ?? "")),
  );
const items = (page: Page, sel: string) =>
  page.$$eval(`${sel} li`, (lis) => lis.map((li) => li.textContent ?? ""));

t.test("the examples' pages show aggregates and alerts live", { skip }, async (t) => {
  const auth = jwtAuth();
  const dir = await mkdtemp(join(tmpdir(), "jetmesh-examples-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await buildExamplePage("iot", join(dir, "iot"));
  await buildExamplePage("transactions", join(dir, "transactions"));
  const web = await staticServer(dir);
  t.teardown(() => new Promise<void>((r) => web.server.close(() => r())));
  const stack = await startProcessStack({
    ...auth.env,
    JETMESH_NAMESPACES: namespacesFile(dir),
    JETMESH_ALLOWED_ORIGINS: "*",
  });
  t.teardown(stack.stop);
  // What route will publish, published here by a token granted those channels.
  const routeToken = await mintToken(auth.secret, "route-sim", {
    publish: ["iot.>", "alerts.>", "cards.>"],
    subscribe: [],
  });
  // The viewer: anonymous may read the IoT channels; the cards ones need role fraud.
  const viewer = await mintToken(auth.secret, "viewer", { claims: { role: "fraud" } });
  const ingestHttp = stack.ingestWs.replace(/^ws:/, "http:").replace(/\/v1\/ws$/, "");
  let n = 0;
  const publish = async (channel: string, data: unknown) => {
    const res = await fetch(`${ingestHttp}/v1/publish`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${routeToken}` },
      body: JSON.stringify({ id: `sim-${++n}`, channel, data }),
    });
    t.equal(res.status, 200, `published on ${channel}`, { body: await res.text() });
  };

  const browser = await launchChromium();
  t.teardown(() => browser.close());
  const open = async (example: string, token?: string) => {
    const page = await browser.newPage({ viewport: { width: 1000, height: 600 } });
    page.on("pageerror", (err) => t.fail(`${example} page threw: ${err.message}`));
    await page.goto(
      `${web.url}/${example}/?notify=${encodeURIComponent(stack.notifyWs)}${
        token ? `#token=${token}` : ""
      }`,
    );
    await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
    return page;
  };
  mkdirSync(SCREENSHOTS, { recursive: true });

  t.test("iot, anonymous", async (t) => {
    const page = await open("iot");
    const w0 = 1_700_000_000_000;
    const win = (device: string, start: number, avg: number) => ({
      device,
      windowStart: start,
      windowEnd: start + 10_000,
      count: 4,
      avg,
      min: avg - 2,
      max: avg + 3,
    });
    await publish("iot.avg10s.dev-0002", win("dev-0002", w0, 64.25));
    await publish("iot.avg10s.dev-0001", win("dev-0001", w0, 70));
    await publish("iot.avg10s.dev-0001", win("dev-0001", w0 + 10_000, 82.5));
    const hot = { alert: "hot", key: "dev-0001", state: "firing", value: 82.5, above: 80 };
    await publish("alerts.iot.dev-0001", { ...hot, clearBelow: 75, source: {} });
    await publish("iot.late.dev-0002", {
      reason: "late",
      rule: "avg10s",
      eventTime: w0 + 1000,
      watermark: w0 + 20_000,
      windows: [w0],
      event: { id: "d:1", channel: "iot.readings.dev-0002", data: {} },
    });
    const rows = await eventually(
      "two devices",
      () => cells(page),
      (r) => r.length === 2 && r[0][6] !== "",
    );
    t.same(rows, [
      ["dev-0001", "22:13:30–22:13:40", "4", "82.5", "80.5", "85.5", "firing (82.5)"],
      ["dev-0002", "22:13:20–22:13:30", "4", "64.3", "62.3", "67.3", ""],
    ], "latest window per device, with its alert");
    t.same(await items(page, "#alerts"), ["dev-0001"], "active alert listed");
    t.match((await items(page, "#late-list"))[0], /^iot\.readings\.dev-0002 22:13:21 late/);
    await page.screenshot({ path: `${SCREENSHOTS}/example-iot.png` });
    await publish("alerts.iot.dev-0001", { ...hot, state: "cleared", value: 74, source: {} });
    await eventually("alert cleared", () => items(page, "#alerts"), (a) => a.length === 0);
    t.equal((await cells(page))[0][6], "cleared (74.0)", "the row says cleared");
    await page.close();
  });

  t.test("transactions, with a role=fraud token", async (t) => {
    const page = await open("transactions", viewer);
    const w0 = 1_700_000_000_000;
    await publish("cards.minute.acct-0007", {
      account: "acct-0007",
      windowStart: w0,
      windowEnd: w0 + 60_000,
      count: 12,
      amount: 6200.5,
      p95: 1800,
    });
    await publish("cards.alerts.acct-0007", {
      alert: "too-many",
      key: "acct-0007",
      state: "firing",
      value: 12,
      above: 10,
      clearBelow: 5,
      source: {},
    });
    await publish("cards.alerts.acct-0007", {
      alert: "too-much",
      key: "acct-0007",
      state: "firing",
      value: 6200.5,
      above: 5000,
      clearBelow: 2000,
      source: {},
    });
    await publish("cards.flagged.acct-0003", {
      account: "acct-0003",
      tx: "x:1",
      amount: 1500,
      reason: "large",
    });
    const rows = await eventually(
      "the account",
      () => cells(page),
      (r) => r.length === 1 && r[0][5].includes("too-much"),
    );
    t.same(rows, [[
      "acct-0007",
      "22:13:20–22:14:20",
      "12",
      "6200.50",
      "1800.00",
      "too-many too-much",
    ]]);
    t.same(await items(page, "#alerts"), ["acct-0007 too-many", "acct-0007 too-much"]);
    t.same(
      await eventually("flagged", () => items(page, "#flagged-list"), (f) => f.length === 1),
      ["acct-0003 1500.00 large"],
    );
    await page.screenshot({ path: `${SCREENSHOTS}/example-transactions.png` });
    await page.close();
  });

  t.test("the cards channels refuse a viewer without the role", async (t) => {
    const page = await browser.newPage();
    await page.goto(`${web.url}/transactions/?notify=${encodeURIComponent(stack.notifyWs)}`);
    const err = await eventually(
      "a refusal",
      () => page.$eval("#error", (e) => e.textContent ?? ""),
      (e) => e !== "",
    );
    t.match(err, /subscription refused/);
    await page.close();
  });
});
