import { isDatabaseAway } from "@logbook/core";
import { tryExclusive, type AdvisoryLock, type Knex } from "@logbook/db";

import type { Logger } from "./logger.js";

export interface Scheduler {
  /** Stops the schedule and waits for a run in progress to finish. */
  stop(): Promise<void>;
}

export interface ScheduleOptions {
  /** Run only while this process holds `lock` (tried, never waited for). */
  exclusive?: { knex: Knex; lock: AdvisoryLock } | undefined;
  /** Whether the server knows the database is down now (a failure then is expected). */
  databaseDown?: (() => boolean) | undefined;
}

/**
 * Runs `task` every `intervalMs`, counted from the end of the previous run, so a slow run
 * never overlaps the next one. Failures are logged and the schedule goes on. The timer is
 * unref'd: a schedule alone never keeps the process alive.
 *
 * With `exclusive`, a run happens only while this process holds that advisory lock
 * (tried, never waited for): every replica schedules the job, one at a time runs it, and
 * the others skip that turn. Jobs that lock for themselves (retention) go without.
 */
export function schedule(
  name: string,
  intervalMs: number,
  task: () => Promise<void>,
  logger: Logger,
  options: ScheduleOptions = {},
): Scheduler {
  const { exclusive, databaseDown } = options;
  if (intervalMs <= 0) {
    logger.info({ task: name }, "scheduled task disabled");
    return { stop: () => Promise.resolve() };
  }
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;

  const run = () => {
    timer = null;
    if (stopped) return;
    running = (exclusive ? runExclusive(name, exclusive, task, logger) : task())
      .catch((error: unknown) => logFailure(logger, name, error, databaseDown?.() ?? false))
      .finally(() => {
        running = null;
        if (!stopped) arm();
      });
  };
  const arm = () => {
    timer = setTimeout(run, intervalMs);
    timer.unref();
  };
  arm();

  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}

async function runExclusive(
  name: string,
  exclusive: { knex: Knex; lock: AdvisoryLock },
  task: () => Promise<void>,
  logger: Logger,
): Promise<void> {
  const run = await tryExclusive(exclusive.knex, exclusive.lock, task);
  if (!run.ran) logger.debug({ task: name }, "scheduled task skipped: another replica is running it");
}

/**
 * A run that failed because the database is away (down, restarting, pool exhausted: said by
 * the error or by one it wraps, or known to the server at that moment) is expected during
 * an outage: the server already reports the outage, and the next turn runs again, so it is
 * a warning. Anything else is an error. Either way only the error's name, code, message and
 * stack are logged: driver and query-builder errors can carry the client configuration,
 * connection string and password included.
 */
function logFailure(logger: Logger, task: string, error: unknown, databaseDown: boolean): void {
  const { name, code, message, stack } = (typeof error === "object" && error !== null ? error : {}) as {
    name?: unknown;
    code?: unknown;
    message?: unknown;
    stack?: unknown;
  };
  if (databaseDown || isDatabaseAway(error)) {
    logger.warn({ task, reason: message ?? String(error) }, "scheduled task skipped: the database is not available");
    return;
  }
  logger.error({ task, err: { name, code, message: message ?? String(error), stack } }, "scheduled task failed");
}
