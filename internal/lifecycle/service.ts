export interface RunningService {
  /** The HTTP/WebSocket port actually bound (useful with port 0). */
  port: number;
  /**
   * The port of /healthz, /readyz and /metrics: a second listener on ingest
   * and notify, kept off the public port; `port` itself on route and persist.
   */
  opsPort: number;
  /** Graceful stop: refuse new work, finish what was accepted, ack it, close. */
  stop(): Promise<void>;
}
