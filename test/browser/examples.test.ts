/**
 * The examples' live pages (examples/iot/page, examples/transactions/page) in chromium, on a
 * stack of the four services whose route runs both examples' rules. The pages open, then the
 * IoT and transactions generators' input (out of order, duplicated, late) goes through ingest;
 * each page must come to show, for every key, a window route derived with the reference's
 * aggregates and the alert states the reference gives up to it. The pages are served by a small
 * static server here, as any web server would.
 */
import { createServer, type Server } from "node:http";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import type { Page } from "playwright-core";
import { eventually, launchChromium, SCREENSHOTS, skipWithoutChromium } from "./chromium.ts";
import t, { type Test } from "tap";
import { parse } from "yaml";
import { buildExamplePage } from "../../examples/page/build.ts";
import { startProcessStack } from "../../devkit/process-stack.ts";
import { jwtAuth, mintToken } from "../../devkit/tokens.ts";
import { publishInput } from "../e2e/example-results.ts";
import { iotInput } from "../e2e/iot-results.ts";
import { transactionsInput } from "../e2e/transactions-results.ts";
import { iotView, keysOf, type PageView, transactionsView } from "./example-views.ts";

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
const text = (page: Page, sel: string) => page.$eval(sel, (e) => e.textContent ?? "");

interface Want {
  /** Rows once every key has a window. */
  keys: number;
  /** Window results the reference closes: a page that settled has shown as many at least. */
  windows: number;
  /** The counter PageView has (#late, #flagged). */
  counter: string;
  /** What the page should show for the windows it shows. */
  expected: (v: PageView) => PageView;
}

/**
 * Reads the page until it shows what `want` has (or the time is up), and compares: the view
 * is read again at the end, so a failure shows how it differs.
 */
async function checkPage(t: Test, page: Page, want: Want): Promise<PageView> {
  const view = async () => ({
    rows: await cells(page),
    alerts: await items(page, "#alerts"),
    counter: await text(page, `#${want.counter}`),
    windows: Number(await text(page, "#windows")),
  });
  const { windows, ...shown } = await eventually(
    "the reference's view",
    view,
    ({ windows, ...v }) =>
      v.rows.length === want.keys && windows >= want.windows &&
      JSON.stringify(v) === JSON.stringify(want.expected(v)),
    30_000,
  ).catch(view);
  t.equal(shown.rows.length, want.keys, `a row for each of the ${want.keys} keys`);
  t.ok(windows >= want.windows, `${windows} window results shown (${want.windows} closed)`);
  t.same(shown, want.expected(shown), "each key's latest window and alerts as the reference's");
  return shown;
}

t.test("the examples' pages show what route derives from the generators", { skip }, async (t) => {
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
  // A publisher per generator: both number their events r0, r1... and ingest makes the event id
  // `<sub>:<id>`, so under one sub the second input would be dropped as duplicates of the first.
  const sensors = await mintToken(auth.secret, "sensors");
  const cards = await mintToken(auth.secret, "cards");
  // The viewer: anonymous may read the IoT channels; the cards ones need role fraud.
  const viewer = await mintToken(auth.secret, "viewer", { claims: { role: "fraud" } });
  const ingestHttp = stack.ingestWs.replace(/^ws:/, "http:").replace(/\/v1\/ws$/, "");

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
  // Both pages subscribed before anything is sent: they show only what comes live.
  const iotPage = await open("iot");
  const txPage = await open("transactions", viewer);
  const iot = iotInput(sensors, 6000);
  const tx = transactionsInput(cards, 6000);
  await Promise.all([
    publishInput(t, { ingestHttp, token: sensors }, iot.events),
    publishInput(t, { ingestHttp, token: cards }, tx.events),
  ]);

  t.test("iot, anonymous", async (t) => {
    const shown = await checkPage(t, iotPage, {
      keys: keysOf(iot.expected, "device"),
      windows: iot.expected.windows.length,
      counter: "late",
      expected: (v) => iotView(iot.expected, v),
    });
    t.ok(shown.rows.some((r) => r[6] !== ""), "an alert shown");
    await iotPage.screenshot({ path: `${SCREENSHOTS}/example-iot.png` });
    await iotPage.close();
  });

  t.test("transactions, with a role=fraud token", async (t) => {
    const shown = await checkPage(t, txPage, {
      keys: keysOf(tx.expected, "account"),
      windows: tx.expected.windows.length,
      counter: "flagged",
      expected: (v) => transactionsView(tx.expected, v),
    });
    t.ok(shown.alerts.length > 0, "an alert firing");
    await txPage.screenshot({ path: `${SCREENSHOTS}/example-transactions.png` });
    await txPage.close();
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
