/**
 * What the browser tests share: Debian's chromium (`make ensure-chromium`; `npx playwright
 * install` cannot download a browser here) with the flags it needs on this closed network, the
 * skip rule, and polling a page until it shows something.
 */
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";
export const SCREENSHOTS = ".data/screenshots";
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

// In CI (.ci/run sets JETMESH_CI) a missing browser is a failure, not a skip: a skipped test
// checks nothing.
export const skipWithoutChromium: string | false = existsSync(CHROMIUM) || process.env.JETMESH_CI
  ? false
  : `${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`;

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
}

/** Reads until `ok` holds, every 100 ms; throws with the last value after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  read: () => Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
