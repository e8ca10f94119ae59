/**
 * The worker side of the bench's IPC: a worker is forked by bench/worker.ts
 * and answers named commands. Commands may report progress while they run.
 */
export type Progress = (fields: Record<string, unknown>) => void;
export type Handler = (
  args: Record<string, unknown>,
  progress: Progress,
) => Promise<unknown> | unknown;

interface Call {
  id: number;
  cmd: string;
  args: Record<string, unknown>;
}

export function serve(handlers: Record<string, Handler>): void {
  if (!process.send) throw new Error("a bench worker must be forked with an IPC channel");
  const send = (m: unknown) => process.send?.(m);
  process.on("message", async (raw) => {
    const call = raw as Call;
    const progress: Progress = (fields) => send({ type: "progress", id: call.id, fields });
    try {
      const handler = handlers[call.cmd];
      if (!handler) throw new Error(`unknown command ${call.cmd}`);
      const result = await handler(call.args ?? {}, progress);
      send({ type: "reply", id: call.id, result: result ?? null });
    } catch (err) {
      send({
        type: "reply",
        id: call.id,
        error: err instanceof Error ? err.stack ?? err.message : String(err),
      });
    }
  });
  // The parent going away (even by SIGKILL) ends the worker.
  process.on("disconnect", () => process.exit(0));
  send({ type: "ready" });
}

export function num(args: Record<string, unknown>, key: string, fallback?: number): number {
  const v = args[key] ?? fallback;
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new Error(`argument ${key} must be a number`);
  }
  return v;
}

export function str(args: Record<string, unknown>, key: string, fallback?: string): string {
  const v = args[key] ?? fallback;
  if (typeof v !== "string") throw new Error(`argument ${key} must be a string`);
  return v;
}
