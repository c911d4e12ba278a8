/**
 * Group commit: single writes that arrive while earlier ones are being committed are
 * gathered and committed together, in one transaction. Nothing waits on a timer, so a
 * lone write goes straight through; under load, many writes share one round of
 * statements and one WAL flush instead of each paying for its own.
 */
export interface GroupCommitOptions<Item, Result> {
  /** Commits a batch; returns one result per item, in order. */
  commit(items: Item[]): Promise<Result[]>;
  /** Batches committed at the same time. @default 4 */
  maxInFlight?: number;
  /** Items in one batch. @default 200 */
  maxBatch?: number;
  /**
   * Whether a failed batch's items are committed again one by one, so that only the item
   * that sank it fails. No for a failure that is not about the items (the database busy or
   * down): each would fail alone the same way, one after another, and their callers would
   * wait for all of those failures. @default every failure is tried again item by item
   */
  retryAlone?: (error: unknown) => boolean;
}

interface Waiting<Item, Result> {
  item: Item;
  resolve(result: Result): void;
  reject(error: unknown): void;
}

export class GroupCommit<Item, Result> {
  private readonly queue: Array<Waiting<Item, Result>> = [];
  private inFlight = 0;
  private readonly maxInFlight: number;
  private readonly maxBatch: number;

  constructor(private readonly options: GroupCommitOptions<Item, Result>) {
    this.maxInFlight = options.maxInFlight ?? 4;
    this.maxBatch = options.maxBatch ?? 200;
  }

  submit(item: Item): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.inFlight++;
      void this.run(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async run(batch: Array<Waiting<Item, Result>>): Promise<void> {
    try {
      const results = await this.options.commit(batch.map((w) => w.item));
      batch.forEach((w, i) => settle(w, results[i]));
    } catch (error) {
      if (batch.length === 1 || this.options.retryAlone?.(error) === false) {
        for (const w of batch) w.reject(error);
        return;
      }
      // One item may have sunk the batch: commit each alone so only that one fails.
      await Promise.all(
        batch.map(async (w) => {
          try {
            const [result] = await this.options.commit([w.item]);
            settle(w, result);
          } catch (single) {
            w.reject(single);
          }
        }),
      );
    }
  }
}

/** Resolves with the item's result; a commit that returned fewer results than items is a bug. */
function settle<Item, Result>(waiting: Waiting<Item, Result>, result: Result | undefined): void {
  if (result === undefined) waiting.reject(new Error("group commit: the commit returned no result for this item"));
  else waiting.resolve(result);
}
