/** What run-local prints once the stack is up: where everything is and how to try it. */
import { SERVICES } from "../catalog.ts";
import { color } from "./console.ts";

export interface SummaryInput {
  /** Every /healthz answered in time, by service in catalog order. */
  healthy: boolean[];
  ingestPort: number;
  notifyPort: number;
  opsPortOf(name: string): number;
  natsUrl: string;
  /** The services run as users of run-local's own server (not an external NATS_URL). */
  natsUsers: boolean;
  /** The admin's ways in (nats CLI context, run-local.env), already phrased. */
  access: string[];
  databaseUrl: string;
  embeddedDatabase: boolean;
  /** Where traces go, already phrased. */
  traces: string;
  /** The token printed for `alice`, and whether run-local.env keeps it; none: auth as configured. */
  token?: { value: string; kept: boolean };
  /** `make run-local EXAMPLE=<name>`: its live page (add #token=<jwt> with auth on). */
  example?: { name: string; url: string };
  /** Every replica's ports, by service in catalog order (`ops` empty when it is the main one). */
  replicas: Array<{ name: string; ports: number[]; ops: number[] }>;
}

export function summaryLines(s: SummaryInput): string[] {
  const { ingestPort: ingest, notifyPort: notify } = s;
  return [
    "",
    color.bold("jetmesh is running") +
    (s.healthy.every(Boolean) ? "" : color.yellow("  (some /healthz did not answer yet)")),
    `  chat     http://localhost:${notify}/               the demo page (sign in with any name)`,
    ...(s.example
      ? [
        `  example  ${s.example.url}${s.token ? "#token=$TOKEN" : ""}   the ${s.example.name} page`,
        `           load: INGEST_URL=http://localhost:${ingest} JETMESH_TOKEN_URL='http://localhost:${notify}/dev/token?name=loadgen' make example-load EXAMPLE=${s.example.name}`,
      ]
      : []),
    `  ingest   ws://localhost:${ingest}/v1/ws         publish over WebSocket`,
    `           http://localhost:${ingest}/v1/publish  POST {"id","channel","data"}`,
    `  notify   ws://localhost:${notify}/v1/ws         subscribe`,
    `           http://localhost:${notify}/v1/history  GET ?channel=...&after=...`,
    `  health   ${
      SERVICES.map((svc, i) =>
        `${s.healthy[i] ? "" : "(!)"}http://localhost:${s.opsPortOf(svc.name)}/healthz`
      ).join("  ")
    }`,
    `  metrics  ${
      SERVICES.map((svc) => `http://localhost:${s.opsPortOf(svc.name)}/metrics`).join("  ")
    }`,
    ...replicaLines(s.replicas),
    `  traces   ${s.traces}`,
    `  NATS     ${s.natsUrl}${s.natsUsers ? " (a user per service; admin for tools)" : ""}`,
    ...s.access.map((l) => `  ${l}`),
    `  database ${s.embeddedDatabase ? `${s.databaseUrl} (embedded PGlite)` : "DATABASE_URL"}`,
    ...(s.token
      ? tokenLines(s.token.value, ingest, notify, s.token.kept)
      : [`  auth     as JETMESH_AUTH / JETMESH_JWT_* say (no dev tokens)`]),
    `  check    make smoke-running   stop  Ctrl-C`,
    "",
  ];
}

/** With REPLICAS=n: where each replica listens (the lines above name replica 0). */
function replicaLines(replicas: SummaryInput["replicas"]): string[] {
  const n = replicas[0]?.ports.length ?? 1;
  if (n < 2) return [];
  return [
    `  replicas ${n} of each service (REPLICAS=${n}); a client may use any edge replica:`,
    ...replicas.map(({ name, ports, ops }) =>
      `           ${name.padEnd(8)} ${ports.join(" ")}${
        ops.length > 0 ? `   ops ${ops.join(" ")}` : ""
      }`
    ),
  ];
}

/** How to try it with a token: the one printed, or another from /dev/token. */
function tokenLines(token: string, ingest: number, notify: number, kept: boolean): string[] {
  return [
    `  token    alice (12 h${
      kept ? ", also JETMESH_TOKEN in .data/run-local.env" : ""
    }; any name: curl -s 'http://localhost:${notify}/dev/token?name=bob'):`,
    `           TOKEN=${token}`,
    `  try      curl -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"channel":"chat.lobby","data":{"text":"hi"}}' http://localhost:${ingest}/v1/publish`,
    `           curl -H "Authorization: Bearer $TOKEN" 'http://localhost:${notify}/v1/history?channel=chat.lobby'`,
    `           websocat "ws://localhost:${notify}/v1/ws?token=$TOKEN"   then {"op":"sub","channel":"chat.lobby","after":"0-0"}`,
  ];
}
