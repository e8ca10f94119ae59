import { compareCursors } from "./cursor.ts";
import type { JetmeshEvent } from "./types.ts";

interface Reader {
  buffer: JetmeshEvent[];
  wake?: () => void;
}

/**
 * One channel or pattern, delivered once and in order across reconnects:
 * `cursor` follows the last event handed out, every resubscribe starts after
 * it, and anything at or before it is dropped. Read events with `for await`
 * or `onEvent`. Events that arrive while there is neither are kept for the
 * first of them, so nothing is lost between subscribe() and reading; each
 * iterator then buffers what it has not read yet.
 */
export class Subscription implements AsyncIterable<JetmeshEvent> {
  readonly channel: string;
  /**
   * Cursor of the last event delivered, or where the subscription started; undefined until the
   * server confirmed it.
   */
  cursor: string | undefined;
  /** Resolves when the server first confirmed the subscription; rejects when it refused it. */
  readonly ready: Promise<void>;
  readonly #unsubscribe: () => void;
  readonly #listeners = new Set<(e: JetmeshEvent) => void>();
  readonly #errorListeners = new Set<(err: Error) => void>();
  readonly #readers = new Set<Reader>();
  /** Events delivered before anyone read. */
  #held: JetmeshEvent[] = [];
  #ended = false;
  #error: Error | undefined;
  #confirm!: () => void;
  #refuse!: (err: Error) => void;

  constructor(channel: string, after: string | undefined, unsubscribe: () => void) {
    this.channel = channel;
    this.cursor = after;
    this.#unsubscribe = unsubscribe;
    this.ready = new Promise<void>((resolve, reject) => {
      this.#confirm = resolve;
      this.#refuse = reject;
    });
    // A refusal also reaches iterators and onError; nobody has to await `ready`.
    this.ready.catch(() => {});
  }

  onEvent(listener: (e: JetmeshEvent) => void): () => void {
    this.#listeners.add(listener);
    for (const e of this.#takeHeld()) listener(e);
    return () => this.#listeners.delete(listener);
  }

  /** Called once if the server refuses the subscription for good (a bad channel, a limit). */
  onError(listener: (err: Error) => void): () => void {
    this.#errorListeners.add(listener);
    return () => this.#errorListeners.delete(listener);
  }

  /** Unsubscribes; iterators finish after the events they hold. */
  close(): void {
    if (this.#ended) return;
    this.#unsubscribe();
    this.#end();
  }

  [Symbol.asyncIterator](): AsyncIterator<JetmeshEvent> {
    const reader: Reader = { buffer: this.#takeHeld() };
    this.#readers.add(reader);
    return {
      next: async () => {
        while (reader.buffer.length === 0) {
          if (this.#error) throw this.#error;
          if (this.#ended) return { done: true, value: undefined };
          await new Promise<void>((resolve) => (reader.wake = resolve));
        }
        return { done: false, value: reader.buffer.shift()! };
      },
      return: () => {
        this.#readers.delete(reader);
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }

  /** The server confirmed a (re)subscribe that starts after `cursor`. */
  started(cursor: string): void {
    this.cursor ??= cursor;
    this.#confirm();
  }

  /**
   * An event from the server; dropped when it is not after the last one delivered. Dedupe
   * (docs/dedupe.md): the last hop, by cursor.
   */
  deliver(e: JetmeshEvent): void {
    if (this.#ended || (this.cursor !== undefined && compareCursors(e.cursor, this.cursor) <= 0)) {
      return;
    }
    this.cursor = e.cursor;
    if (this.#listeners.size === 0 && this.#readers.size === 0) return void this.#held.push(e);
    for (const listener of [...this.#listeners]) listener(e);
    for (const reader of this.#readers) {
      reader.buffer.push(e);
      reader.wake?.();
    }
  }

  /** The server refused the subscription for good. */
  fail(err: Error): void {
    if (this.#ended) return;
    this.#error = err;
    this.#refuse(err);
    for (const listener of [...this.#errorListeners]) listener(err);
    this.#end();
  }

  #takeHeld(): JetmeshEvent[] {
    const held = this.#held;
    this.#held = [];
    return held;
  }

  #end(): void {
    this.#ended = true;
    for (const reader of this.#readers) reader.wake?.();
  }
}
