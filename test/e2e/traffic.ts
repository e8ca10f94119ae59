import { type Frame, TestClient } from "../../devkit/test-client.ts";

/**
 * A publisher that keeps publishing round-robin over some channels until
 * stopped, and remembers what it published in order: the expected view of
 * every subscriber. One connection, acks not awaited, so the stream holds the
 * events in publish order.
 */
export class Traffic {
  readonly published: Array<{ id: string; channel: string }> = [];
  readonly #client: TestClient;
  readonly #publisher: string;
  #stopped = false;
  #loop: Promise<void>;

  private constructor(client: TestClient, publisher: string, channels: string[], everyMs: number) {
    this.#client = client;
    this.#publisher = publisher;
    this.#loop = (async () => {
      for (let i = 0; !this.#stopped; i++) {
        const channel = channels[i % channels.length];
        const id = `m-${i}`;
        this.published.push({ id: `${publisher}:${id}`, channel });
        client.sendJson({ op: "pub", id, channel, data: { i } });
        await new Promise((r) => setTimeout(r, everyMs));
      }
    })();
  }

  static async start(
    ingestWs: string,
    publisher: string,
    channels: string[],
    everyMs = 3,
  ): Promise<Traffic> {
    return new Traffic(
      await TestClient.open(`${ingestWs}?publisher=${publisher}`),
      publisher,
      channels,
      everyMs,
    );
  }

  /** Stops publishing and waits until every event is acked. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
    await this.#client.until(
      (fs) => fs.filter((f) => f.op === "ack").length >= this.published.length,
      30_000,
      "every ack",
    );
    const errors = this.#client.frames.filter((f) => f.op === "error");
    if (errors.length > 0) {
      throw new Error(
        `publisher ${this.#publisher} got errors: ${JSON.stringify(errors.slice(0, 3))}`,
      );
    }
    await this.#client.close();
  }

  /** Event ids published on channels `match` accepts, in publish order. */
  ids(match: (channel: string) => boolean): string[] {
    return this.published.filter((e) => match(e.channel)).map((e) => e.id);
  }
}

/** The event frames `c` received, without the markers that prove the end of a test's traffic. */
export function events(c: TestClient): Frame[] {
  return c.events();
}

export function seqOf(cursor: unknown): number {
  return Number(String(cursor).split("-")[1]);
}
