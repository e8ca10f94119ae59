/**
 * Builds the chat page ahead of time into one folder notify serves as it is: `index.html`,
 * `chat.css` and `chat.js` (app.ts bundled with the SDK it imports). esbuild is a development
 * dependency, so notify compiles nothing at run time and its production code needs nothing
 * from demo/.
 *
 *   node --import tsx demo/chat/build.ts <out-dir>     (`make page` writes .build/chat)
 */
import { copyFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const HERE = new URL("./", import.meta.url);

/**
 * Bundles `entry` (a page's script, with the SDK it imports) into `outDir`/`script` and copies
 * the page's static files beside it (target name → source). The examples' pages build the same way.
 */
export async function bundlePage(
  entry: URL,
  outDir: string,
  script: string,
  files: Record<string, URL>,
): Promise<void> {
  await mkdir(outDir, { recursive: true });
  const esbuild = await import("esbuild");
  try {
    await esbuild.build({
      entryPoints: [fileURLToPath(entry)],
      outfile: join(outDir, script),
      bundle: true,
      format: "esm",
      target: "es2022",
      logLevel: "warning",
    });
  } finally {
    // esbuild keeps a helper process for further builds; there are none.
    await esbuild.stop();
  }
  for (const [name, source] of Object.entries(files)) await copyFile(source, join(outDir, name));
}

export async function buildPage(outDir: string): Promise<void> {
  await bundlePage(new URL("app.ts", HERE), outDir, "chat.js", {
    "index.html": new URL("index.html", HERE),
    "chat.css": new URL("style.css", HERE),
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const out = process.argv[2];
  if (out === undefined) {
    console.error("usage: node --import tsx demo/chat/build.ts <out-dir>");
    process.exit(2);
  }
  await buildPage(out);
  console.log(`chat page built into ${out}`);
}
