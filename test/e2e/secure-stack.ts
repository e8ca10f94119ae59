import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { jwtAuth, mintToken, type TokenOptions } from "../../devkit/tokens.ts";
import { type Frame, TestClient } from "../../devkit/test-client.ts";
import { type Stack, startStack } from "../../devkit/in-process-stack.ts";

export interface SecureStack {
  stack: Stack;
  /** A token signed with the stack's secret. */
  token(sub: string, o?: TokenOptions): Promise<string>;
  /**
   * Publishes through ingest's HTTP API as a publisher allowed everywhere; resolves with the
   * ack.
   */
  publish(channel: string, data: unknown): Promise<{ seq: number }>;
  /** A WebSocket to notify carrying `token` in the query. */
  open(token?: string): Promise<TestClient>;
  stop(): Promise<void>;
}

/** A whole jetmesh with JWT auth on and the namespaces file `namespaces` (YAML). */
export async function startSecureStack(
  namespaces: string,
  extraEnv: Record<string, string> = {},
): Promise<SecureStack> {
  const dir = mkdtempSync(join(tmpdir(), "jetmesh-ns-"));
  const file = join(dir, "namespaces.yaml");
  writeFileSync(file, namespaces);
  const { secret, env } = jwtAuth();
  const stack = await startStack({ ...env, JETMESH_NAMESPACES: file, ...extraEnv });
  const token = (sub: string, o?: TokenOptions) => mintToken(secret, sub, o);
  const publisher = await token("test-publisher", { publish: [">"] });
  return {
    stack,
    token,
    async publish(channel, data) {
      const res = await fetch(`${stack.ingestHttp}/v1/publish`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${publisher}` },
        body: JSON.stringify({ channel, data }),
      });
      if (res.status !== 200) {
        throw new Error(`publish to ${channel}: ${res.status} ${await res.text()}`);
      }
      return await res.json();
    },
    open: (t) => TestClient.open(t === undefined ? stack.notifyWs : `${stack.notifyWs}?token=${t}`),
    async stop() {
      await stack.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The HTTP status an upgrade is refused with, or 101 when it is accepted (the socket is closed
 * again).
 */
export function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once("open", () => {
      ws.close();
      resolve(101);
    });
    ws.once("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    ws.once("error", reject);
  });
}

/** Sends a frame and waits for its answer: a frame of one of `ops`, or an error. */
export async function ask(
  c: TestClient,
  frame: Record<string, unknown>,
  ...ops: string[]
): Promise<Frame> {
  const n = c.frames.length;
  c.sendJson(frame);
  return await c.next((f) => ops.includes(f.op) || f.op === "error", n);
}
