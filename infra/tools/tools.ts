/**
 * Where the project's pinned tools are: nats-server, the nats CLI and Jaeger,
 * built by `make tools` into .tools/bin at the versions of infra/tools/pins.txt,
 * and Centrifugo, a bench peer built only when named (`TOOLS=centrifugo`).
 *
 * A binary named by its variable (NATS_SERVER_BIN, NATS_CLI_BIN, JAEGER_BIN, CENTRIFUGO_BIN)
 * wins; then .tools/bin; then one on PATH, but only when it reports at least
 * the minimum version in pins.txt (Debian's nats-server 2.9.10 does not).
 */
import { spawnSync } from "node:child_process";
import { accessSync, constants, readFileSync } from "node:fs";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export type ToolName = "nats-server" | "nats" | "jaeger" | "centrifugo";

export interface Pin {
  name: ToolName;
  module: string;
  package: string;
  version: string;
  /** Oldest version accepted from PATH; undefined: only the pinned build. */
  minimum: string | undefined;
  /** `default`: built by a plain `make tools`; `bench`: only when named in TOOLS. */
  set: "default" | "bench";
}

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const TOOLS_BIN = join(ROOT, ".tools/bin");

const OVERRIDE: Record<ToolName, string> = {
  "nats-server": "NATS_SERVER_BIN",
  nats: "NATS_CLI_BIN",
  jaeger: "JAEGER_BIN",
  centrifugo: "CENTRIFUGO_BIN",
};

export function readPins(
  text = readFileSync(join(ROOT, "infra/tools/pins.txt"), "utf8"),
): Map<ToolName, Pin> {
  const pins = new Map<ToolName, Pin>();
  for (const line of text.split("\n")) {
    const cols = line.trim().split(/\s+/);
    if (cols[0] === "" || cols[0].startsWith("#")) continue;
    const [name, module, pkg, version, minimum, set] = cols as [
      ToolName,
      string,
      string,
      string,
      string,
      string | undefined,
    ];
    pins.set(name, {
      name,
      module,
      package: pkg,
      version,
      minimum: minimum === "-" ? undefined : minimum,
      set: set === "bench" ? "bench" : "default",
    });
  }
  return pins;
}

/**
 * "v2.15.3", "nats-server: v2.15.3", "0.5.0" → [2, 15, 3]; undefined when no version is in the
 * text.
 */
export function parseVersion(text: string): number[] | undefined {
  const m = /v?(\d+)\.(\d+)\.(\d+)/.exec(text);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

export function atLeast(have: number[], want: number[]): boolean {
  for (let i = 0; i < 3; i++) if (have[i] !== want[i]) return have[i] > want[i];
  return true;
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  const dirs = (env.PATH ?? "").split(delimiter).filter((d) => d !== "");
  for (const extra of ["/usr/sbin", "/usr/local/sbin", "/usr/local/bin"]) {
    if (!dirs.includes(extra)) dirs.push(extra);
  }
  return dirs.map((d) => join(d, name)).find(executable);
}

/** The version a binary reports (`--version`), or undefined. */
function versionOf(file: string): number[] | undefined {
  const r = spawnSync(file, ["--version"], { encoding: "utf8", timeout: 10_000 });
  return parseVersion(`${r.stdout ?? ""} ${r.stderr ?? ""}`);
}

export class ToolMissingError extends Error {
  readonly code = "tool_missing";
  constructor(readonly tool: ToolName, detail: string) {
    super(`${detail}\n${howToGet(tool)}`);
    this.name = "ToolMissingError";
  }
}

function howToGet(tool: ToolName): string {
  const pin = readPins().get(tool)!;
  const repo = pin.module.replace(/^github\.com\//, "").replace(/\/v\d+$/, "");
  // go install refuses modules with replace directives, such as Jaeger's: make tools builds
  // those from the module's directory.
  const goInstall = tool === "jaeger" ? [] : [
    `  or: GOBIN=$PWD/.tools/bin go install ${pin.module}${
      pin.package === "." ? "" : pin.package.slice(1)
    }@${pin.version}`,
  ];
  return [
    `  ${
      pin.set === "default" ? "make tools           " : `TOOLS=${tool} make tools`
    } builds ${tool} ${pin.version} into .tools/bin (needs Go)`,
    ...goInstall,
    `  or: a release binary from https://github.com/${repo}/releases in .tools/bin or named by ${
      OVERRIDE[tool]
    }`,
  ].join("\n");
}

const found = new Map<ToolName, string | ToolMissingError>();

/**
 * locateTool for this process, looked up once per tool (a PATH binary's version check spawns
 * it).
 */
function cached(tool: ToolName): string | ToolMissingError {
  let r = found.get(tool);
  if (r === undefined) found.set(tool, r = locateTool(tool));
  return r;
}

/**
 * Where `tool` is for this environment and tools dir (uncached; findTool and toolPath cache it).
 */
export function locateTool(
  tool: ToolName,
  env: NodeJS.ProcessEnv = process.env,
  toolsBin = TOOLS_BIN,
): string | ToolMissingError {
  const pin = readPins().get(tool)!;
  const named = env[OVERRIDE[tool]];
  if (named) {
    return executable(named)
      ? named
      : new ToolMissingError(tool, `${OVERRIDE[tool]}=${named} is not an executable file`);
  }
  const built = join(toolsBin, tool);
  if (executable(built)) return built;
  const path = onPath(tool, env);
  if (!path) return new ToolMissingError(tool, `${tool} not found in .tools/bin or on PATH`);
  if (!pin.minimum) return path;
  const have = versionOf(path);
  const want = parseVersion(pin.minimum)!;
  if (have && atLeast(have, want)) return path;
  return new ToolMissingError(
    tool,
    `${path} is ${
      have ? `v${have.join(".")}` : "of unknown version"
    }; jetmesh needs ${tool} ${pin.minimum} or newer (pinned: ${pin.version})`,
  );
}

/** Path of a tool, or undefined when none usable is installed (see toolPath for why). */
export function findTool(tool: ToolName): string | undefined {
  const r = cached(tool);
  return typeof r === "string" ? r : undefined;
}

/** Why a tool is not usable, with how to get it ("" when it is). */
export function toolMissingReason(tool: ToolName): string {
  const r = cached(tool);
  return typeof r === "string" ? "" : r.message;
}

/** Path of a tool; throws ToolMissingError saying exactly how to get one. */
export function toolPath(tool: ToolName): string {
  const r = cached(tool);
  if (typeof r === "string") return r;
  throw r;
}
