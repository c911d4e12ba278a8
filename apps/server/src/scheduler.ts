import { tryExclusive, type AdvisoryLock, type Knex } from "@logbook/db";

import type { Logger } from "./logger.js";

export interface Scheduler {
  /** Stops the schedule and waits for a run in progress to finish. */
  stop(): Promise<void>;
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
  exclusive?: { knex: Knex; lock: AdvisoryLock },
): Scheduler {
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
      .catch((error: unknown) => logger.error({ err: error, task: name }, "scheduled task failed"))
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
