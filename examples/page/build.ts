/**
 * Builds an example's page into one folder any static server can serve:
 * `index.html`, `style.css` and `app.js` (the page's app.ts bundled with the SDK),
 * as demo/chat/build.ts does for the chat page.
 *
 *   node --import tsx examples/page/build.ts <example> <out-dir>   (`make example-pages`)
 */
import { pathToFileURL } from "node:url";
import { bundlePage } from "../../demo/chat/build.ts";

const EXAMPLES = new URL("../", import.meta.url);

export async function buildExamplePage(example: string, outDir: string): Promise<void> {
  if (!/^[a-z0-9-]+$/.test(example)) throw new Error(`not an example name: ${example}`);
  const dir = new URL(`${example}/page/`, EXAMPLES);
  await bundlePage(new URL("app.ts", dir), outDir, "app.js", {
    "index.html": new URL("index.html", dir),
    "style.css": new URL("page/style.css", EXAMPLES),
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [example, out] = process.argv.slice(2);
  if (example === undefined || out === undefined) {
    console.error("usage: node --import tsx examples/page/build.ts <example> <out-dir>");
    process.exit(2);
  }
  await buildExamplePage(example, out);
  console.log(`${example} page built into ${out}`);
}
