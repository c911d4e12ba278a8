/**
 * A push queue consumed as an async iterator: producers `push`, one consumer awaits.
 * Bounded, so a consumer that stops reading cannot make the process hold everything:
 * past `maxBuffered` items the queue fails with an error the consumer sees.
 */
export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  private readonly items: T[] = [];
  private waiting: ((result: IteratorResult<T>) => void) | null = null;
  private failWaiting: ((error: unknown) => void) | null = null;
  private done = false;
  private error: unknown = null;

  constructor(
    private readonly maxBuffered = 10_000,
    private readonly onClose?: () => void,
  ) {}

  push(item: T): void {
    if (this.done) return;
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = null;
      this.failWaiting = null;
      resolve({ value: item, done: false });
      return;
    }
    if (this.items.length >= this.maxBuffered) {
      this.fail(new Error(`subscriber fell more than ${this.maxBuffered} items behind; reconnect to resume`));
      return;
    }
    this.items.push(item);
  }

  fail(error: unknown): void {
    if (this.done) return;
    this.error = error;
    if (this.failWaiting) {
      const reject = this.failWaiting;
      this.waiting = null;
      this.failWaiting = null;
      this.close();
      reject(error);
    }
  }

  close(): void {
    if (this.done) return;
    this.done = true;
    this.onClose?.();
    if (this.waiting && this.error === null) {
      const resolve = this.waiting;
      this.waiting = null;
      resolve({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<T>> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve({ value: item, done: false });
    if (this.error !== null) {
      const error = this.error;
      this.close();
      return Promise.reject(error instanceof Error ? error : new Error("subscription failed", { cause: error }));
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.failWaiting = reject;
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
