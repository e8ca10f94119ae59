/**
 * The layout section of docs/architecture.md and the README's layout table
 * name exactly the folders the tree has (issue 13: "done when the layout
 * section matches the tree exactly"): every folder at the top and every
 * folder of internal/, as git tracks them, so git-ignored ones (.data, .tap,
 * .build, .tools, node_modules) and untracked junk do not count.
 */
import t, { type Test } from "tap";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

interface Folders {
  top: Set<string>;
  internal: Set<string>;
}

/** The folders of the tracked tree: first path parts, and second parts below internal/. */
function trackedFolders(): Folders {
  const files = execFileSync("git", ["ls-files", "-z"], { cwd: root, encoding: "utf8" })
    .split("\0")
    .filter(Boolean);
  const top = new Set<string>();
  const internal = new Set<string>();
  for (const f of files) {
    const parts = f.split("/");
    if (parts.length > 1) top.add(parts[0]);
    if (parts[0] === "internal" && parts.length > 2) internal.add(parts[1]);
  }
  return { top, internal };
}

/** The text from the heading `## <title>` to the next heading of that level. */
function section(markdown: string, title: string): string {
  const start = markdown.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`no section "## ${title}"`);
  const end = markdown.indexOf("\n## ", start + 1);
  return markdown.slice(start, end < 0 ? undefined : end);
}

const backticked = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]);

/**
 * The folders a section's tables name, by the first cell of each row: `name/` a folder at the
 * top, `internal/name/` one of internal/. A row whose first cell is just `internal/` may name
 * internal/'s folders as bare words in its second cell (the README's one-row summary).
 */
function namedFolders(text: string): Folders {
  const top = new Set<string>();
  const internal = new Set<string>();
  for (const line of text.split("\n")) {
    if (!line.startsWith("|")) continue;
    const [first = "", second = ""] = line.split("|").slice(1).map((c) => c.trim());
    if (/^-+$/.test(first)) continue;
    for (const name of backticked(first)) {
      const inner = /^internal\/([^/\s]+)\/?$/.exec(name);
      if (inner) internal.add(inner[1]);
      else if (/^[^/\s]+\/$/.test(name)) top.add(name.slice(0, -1));
    }
    if (first === "`internal/`") {
      for (const word of backticked(second)) {
        if (/^[a-z][a-z0-9-]*$/.test(word)) internal.add(word);
      }
    }
  }
  return { top, internal };
}

function sameFolders(t: Test, named: Folders, tree: Folders, where: string): void {
  const diff = (a: Set<string>, b: Set<string>) => [...a].filter((x) => !b.has(x)).sort();
  t.same(diff(tree.top, named.top), [], `${where} names every top-level folder`);
  t.same(diff(named.top, tree.top), [], `${where} names no top-level folder that is not there`);
  t.same(diff(tree.internal, named.internal), [], `${where} names every internal/ folder`);
  t.same(
    diff(named.internal, tree.internal),
    [],
    `${where} names no internal/ folder that is not there`,
  );
}

const read = (file: string) => readFileSync(`${root}${file}`, "utf8");

t.test("docs/architecture.md's Code layout names exactly the tracked folders", async (t) => {
  const named = namedFolders(section(read("docs/architecture.md"), "Code layout"));
  sameFolders(t, named, trackedFolders(), "docs/architecture.md");
});

t.test("the README's Layout table names exactly the tracked folders", async (t) => {
  const named = namedFolders(section(read("README.md"), "Layout"));
  sameFolders(t, named, trackedFolders(), "README.md");
});

t.test("the parser reads both table styles and nothing else", async (t) => {
  const named = namedFolders([
    "`cmd/` in prose does not count",
    "| folder | holds |",
    "|---|---|",
    "| `cmd/` | `ingest`, `cmd/migrate` |",
    "| `internal/` | `auth`, `mod.ts`, `make inspect` |",
    "| `internal/bus/` | the bus |",
    "| `infra/nats` | not a top-level name |",
  ].join("\n"));
  t.same([...named.top].sort(), ["cmd", "internal"]);
  t.same([...named.internal].sort(), ["auth", "bus"]);
});
