import { errorChain, isDatabaseUnreachable } from "@logbook/core";
import { probeDatabase, type EmbeddedPostgresHandle } from "@logbook/db";

import type { Logger } from "./logger.js";

export interface AvailabilityOptions {
  /** Where the server's pool connects (probed with a connection of its own, not the pool). */
  connectionString: string;
  /** The embedded PostgreSQL, restarted here when it dies. */
  embedded?: EmbeddedPostgresHandle | undefined;
  logger: Logger;
  /** First wait between attempts while down; doubles up to `maxRetryMs`. @default 200 */
  retryMs?: number;
  /** @default 2000 */
  maxRetryMs?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Whether the database is there. While it is not, the server answers 503 with Retry-After
 * at once (instead of letting each request wait for the pool's acquire timeout), and this
 * brings it back: it restarts the embedded PostgreSQL, or, with an external DATABASE_URL,
 * probes it until it answers. The pool's broken connections are discarded by the pool
 * itself; what PostgreSQL acknowledged is in its WAL, so a restart loses nothing committed.
 *
 * It learns of an outage from the embedded postmaster's exit (at once), from the live bus
 * losing its connection, and from requests that failed because the connection was gone.
 */
export class DatabaseAvailability {
  private outage: { since: number; reason: string } | null = null;
  private recovering: Promise<void> | null = null;
  private checking: Promise<void> | null = null;
  private stopped = false;
  private readonly unsubscribe: (() => void) | undefined;

  constructor(private readonly options: AvailabilityOptions) {
    this.unsubscribe = options.embedded?.onUnexpectedExit((reason) => this.markDown(`embedded PostgreSQL ${reason}`));
  }

  /** Null while the database is up; else the seconds a client should wait before retrying. */
  retryAfterSeconds(): number | null {
    return this.outage ? 1 : null;
  }

  get isDown(): boolean {
    return this.outage !== null;
  }

  /** The database is gone: answer 503 from now on and bring it back. */
  markDown(reason: string): void {
    if (this.stopped || this.outage) return;
    this.outage = { since: Date.now(), reason };
    this.options.logger.warn({ reason }, "database unavailable: answering 503 until it is back");
    this.recovering = this.recover();
  }

  /**
   * Something failed: when it says the connection is gone, check the database now (a lost
   * connection alone does not mean the database is down: it may have been one backend).
   */
  noteError(error: unknown): void {
    if (this.stopped || this.outage || this.checking || !errorChain(error).some(isDatabaseUnreachable)) return;
    this.checking = this.probe()
      .catch((probeError: unknown) => {
        this.markDown(probeError instanceof Error ? probeError.message : String(probeError));
      })
      .finally(() => {
        this.checking = null;
      });
  }

  /** Stops recovering (graceful stop); resolves when an attempt in progress has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    await this.recovering;
    await this.checking;
  }

  private probe(): Promise<void> {
    return probeDatabase(this.options.connectionString);
  }

  private async recover(): Promise<void> {
    const { embedded, logger } = this.options;
    let wait = this.options.retryMs ?? 200;
    let attempts = 0;
    while (!this.stopped) {
      attempts++;
      try {
        if (embedded && embedded.pid === null) {
          await embedded.restart();
          logger.info({ pid: embedded.pid }, "restarted the embedded PostgreSQL");
        }
        await this.probe();
        break;
      } catch (error) {
        logger.debug({ err: error, attempts }, "database still unavailable");
        await sleep(wait);
        wait = Math.min(wait * 2, this.options.maxRetryMs ?? 2_000);
      }
    }
    if (this.stopped || !this.outage) return;
    logger.info(
      { downMs: Date.now() - this.outage.since, attempts, reason: this.outage.reason },
      "database available again",
    );
    this.outage = null;
    this.recovering = null;
  }
}
