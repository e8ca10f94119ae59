/// <reference lib="dom" />
/**
 * What the example pages share: a notify connection through the SDK, and a live
 * table keyed by device or account. The page learns where notify is and which
 * token to use from its URL: `?notify=ws://host:8081/v1/ws` (default: this
 * origin's `/v1/ws`, as when notify serves the page) and `#token=<jwt>` (the
 * fragment never reaches a server log); without a token it asks the same origin's
 * development endpoint `/dev/token?name=viewer` (run-local), and else subscribes
 * anonymously.
 */
import { JetmeshClient, type JetmeshEvent } from "../../sdk/mod.ts";

export const $ = <T extends HTMLElement = HTMLElement>(selector: string) =>
  document.querySelector<T>(selector)!;

async function token(): Promise<string | undefined> {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromHash) return fromHash;
  try {
    const res = await fetch("/dev/token?name=viewer", { cache: "no-store" });
    if (!res.ok) return undefined;
    return ((await res.json()) as { token?: string }).token;
  } catch {
    return undefined;
  }
}

/** Subscribes to each pattern and marks the page ready (`body[data-ready]`) once all answered. */
export async function live(
  patterns: Record<string, (e: JetmeshEvent) => void>,
): Promise<JetmeshClient> {
  const params = new URLSearchParams(location.search);
  const notifyUrl = params.get("notify") ??
    `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/ws`;
  const t = await token();
  const client = new JetmeshClient({
    notifyUrl,
    ...(t ? { token: t } : {}),
    backoff: { initialMs: 250, maxMs: 2000 },
  });
  const state = $("#state");
  client.onState((s) => {
    state.textContent = s;
    state.dataset.state = s;
  });
  const subs = Object.entries(patterns).map(([p, on]) => client.subscribe(p, { onEvent: on }));
  Promise.all(subs.map((s) => s.ready)).then(
    () => (document.body.dataset.ready = "true"),
    (err: Error) => ($("#error").textContent = `subscription refused: ${err.message}`),
  );
  return client;
}

export interface Column<R> {
  title: string;
  cell: (row: R) => string;
  /** A class for the cell, e.g. to colour an alert. */
  cls?: (row: R) => string | undefined;
}

/**
 * Rows by key, redrawn at most once per animation frame. Bounded: past `maxRows`
 * the row updated longest ago goes (a page left open on 100,000 devices must not
 * grow without end).
 */
export class LiveTable<R> {
  readonly rows = new Map<string, R>();
  readonly #body: HTMLElement;
  readonly #columns: Column<R>[];
  readonly #maxRows: number;
  #queued = false;

  constructor(table: HTMLTableElement, columns: Column<R>[], maxRows = 2000) {
    this.#columns = columns;
    this.#maxRows = maxRows;
    const head = table.createTHead().insertRow();
    for (const c of columns) {
      const th = document.createElement("th");
      th.textContent = c.title;
      head.append(th);
    }
    this.#body = table.createTBody();
  }

  /** Replaces (or creates) a row through `f`, which gets the current one. */
  update(key: string, f: (prev: R | undefined) => R): void {
    const prev = this.rows.get(key);
    this.rows.delete(key);
    this.rows.set(key, f(prev));
    if (this.rows.size > this.#maxRows) this.rows.delete(this.rows.keys().next().value!);
    if (!this.#queued) {
      this.#queued = true;
      requestAnimationFrame(() => this.#render());
    }
  }

  #render(): void {
    this.#queued = false;
    const keys = [...this.rows.keys()].sort();
    this.#body.replaceChildren(...keys.map((k) => {
      const row = this.rows.get(k)!;
      const tr = document.createElement("tr");
      tr.dataset.key = k;
      for (const c of this.#columns) {
        const td = tr.insertCell();
        td.textContent = c.cell(row);
        const cls = c.cls?.(row);
        if (cls) td.className = cls;
      }
      return tr;
    }));
  }
}

export const time = (ms: unknown) =>
  typeof ms === "number" ? new Date(ms).toISOString().slice(11, 19) : "";
export const num = (x: unknown, digits = 1) => typeof x === "number" ? x.toFixed(digits) : "";

/** A short list of the latest items, newest first, bounded. */
export function prepend(list: HTMLElement, text: string, max = 50): void {
  const li = document.createElement("li");
  li.textContent = text;
  list.prepend(li);
  while (list.children.length > max) list.lastElementChild!.remove();
}
