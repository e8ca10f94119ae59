export interface RunningService {
  /** The HTTP/WebSocket port actually bound (useful with port 0). */
  port: number;
  /** Graceful stop: refuse new work, finish what was accepted, ack it, close. */
  stop(): Promise<void>;
}
