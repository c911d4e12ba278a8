import { chmod, mkdir } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { hostname } from "node:os";

import { AuthThrottle, KeyStreams } from "@logbook/api";
import { createServices, isDatabaseAway, LiveBus, PriceBook, readRedactionRulesFile, Redactor } from "@logbook/core";
import {
  ADVISORY_LOCKS,
  isProcessAlive,
  migrateLatestAt,
  openDatabase,
  type AdvisoryLock,
  type Database,
  type Knex,
} from "@logbook/db";

import { DatabaseAvailability } from "./availability.js";
import { BodyBudget } from "./body.js";
import { answerClientErrors } from "./client-error.js";
import type { ServerConfig } from "./config.js";
import {
  readRuntimeInfo,
  removeRuntimeInfo,
  updateCredentialsUrl,
  writeCredentials,
  writeRuntimeInfo,
} from "./credentials.js";
import { createHealthCheck } from "./health.js";
import { answerExpectContinue, createRequestListener, InFlight, type HttpDeps } from "./http.js";
import type { Logger } from "./logger.js";
import { schedule, type Scheduler } from "./scheduler.js";
import { VERSION } from "./version.js";
import { createWebAssets } from "./web.js";

export interface RunningServer {
  /** Where clients reach it, e.g. http://127.0.0.1:4680. */
  url: string;
  /** Graceful stop: see `stop` below. Safe to call twice. */
  stop(): Promise<void>;
}

/** A URL local tools can use: a wildcard listen address is reached through loopback. */
export function clientUrl(host: string, port: number): string {
  const reachable = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
  return `http://${reachable.includes(":") ? `[${reachable}]` : reachable}:${port}`;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** How long start-up waits for the pool's first connection, whatever DATABASE_ACQUIRE_TIMEOUT_MS says. */
const FIRST_CONNECTION_MS = 60_000;

/**
 * Waits for the pool's first connection before anything at start-up uses the pool. Why: the
 * acquire timeout (DATABASE_ACQUIRE_TIMEOUT_MS) bounds how long a request waits for a busy
 * pool, but a fresh process's first connection (a new backend, its authentication) can take
 * longer than a short one on a loaded machine, and the start then failed on the bootstrap
 * key's transaction (seen with a 500 ms timeout at load ~8). Only the pool's own timeout is
 * waited out again: a connection that fails (refused, bad password) fails the start at once,
 * and the creation that timed out goes on in the pool, so the next try finds it.
 */
async function firstPooledConnection(knex: Knex, deadlineMs = FIRST_CONNECTION_MS): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      await knex.raw("SELECT 1");
      return;
    } catch (error) {
      if ((error as Error).name !== "KnexTimeoutError" || Date.now() >= deadline) throw error;
    }
  }
}

async function bootstrapKey(
  config: ServerConfig,
  services: ReturnType<typeof createServices>,
  url: string,
  logger: Logger,
): Promise<void> {
  if (!config.bootstrapKey) return;
  const created = await services.apiKeys.ensureBootstrapKey("local", ["ingest", "read"]);
  if (created) {
    const path = await writeCredentials(config.home, { apiKey: created.secret, url });
    // The path, never the secret.
    logger.info(
      { credentials: path, keyId: created.key.id, scopes: created.key.scopes },
      `created a local API key; it is in ${path}`,
    );
  } else if (await updateCredentialsUrl(config.home, url)) {
    logger.info({ url }, "updated the URL in the credentials file");
  }
}

/** A start refused for a reason the person can act on: logged as its message, without a stack. */
export class StartRefused extends Error {
  override readonly name = "StartRefused";
}

/**
 * The embedded PostgreSQL belongs to the one server that started it: a second server on
 * the same home would start a second PostgreSQL on the same data directory. Replicas share
 * a database through DATABASE_URL instead (docs/scaling.md); say so rather than fail later.
 */
async function refuseSecondEmbeddedOwner(home: string): Promise<void> {
  const running = await readRuntimeInfo(home);
  if (running?.embeddedDatabaseUrl && running.pid !== process.pid && isProcessAlive(running.pid)) {
    throw new StartRefused(
      `another logbook-server (pid ${running.pid}, ${running.url}) runs the embedded PostgreSQL of ${home}; ` +
        "to run several servers, give each the same DATABASE_URL (see docs/scaling.md)",
    );
  }
}

/**
 * The redactor the settings ask for. A rules file is read even with redaction off, so a file
 * that does not parse is found at start, not the day redaction is turned back on: it throws
 * (INVALID_INPUT naming the file and its problems).
 */
export function redactorFor(config: Pick<ServerConfig, "redaction">): Redactor {
  const { enabled, rulesFile } = config.redaction;
  return new Redactor({ enabled, extraRules: rulesFile ? readRedactionRulesFile(rulesFile) : [] });
}

/**
 * Starts everything in order: the database (embedded unless DATABASE_URL), migrations,
 * services, the live bus, the HTTP server, the first-start key, the schedules. Any
 * failure on the way undoes what was started.
 */
export async function startServer(
  config: ServerConfig,
  logger: Logger,
  options: { prices?: PriceBook; redactor?: Redactor } = {},
): Promise<RunningServer> {
  const startedAt = Date.now();
  await mkdir(config.home, { recursive: true, mode: 0o700 });
  // Owner only, also when an earlier version made it 0755 (the embedded PostgreSQL, run as
  // the `postgres` account under root, is then let in through its group alone).
  await chmod(config.home, 0o700);
  const cleanups: Array<() => Promise<void>> = [];
  const undo = async () => {
    for (const cleanup of cleanups.reverse())
      await cleanup().catch((error: unknown) => logger.error({ err: error }, "cleanup failed"));
  };

  try {
    // Before the database: a price file that does not parse stops the start with its problems.
    const prices = options.prices ?? new PriceBook({ overrideFile: config.pricesFile });
    if (config.pricesFile) logger.info({ prices: prices.pricing.version }, `prices from ${config.pricesFile}`);
    const redactor = options.redactor ?? redactorFor(config);
    if (!redactor.enabled) logger.warn("redaction is off: events are stored with any secrets they carry");
    else if (config.redaction.rulesFile)
      logger.info({ rules: redactor.ruleIds.length }, `redaction rules from ${config.redaction.rulesFile}`);
    if (!config.databaseUrl) await refuseSecondEmbeddedOwner(config.home);
    const database: Database = await openDatabase({
      databaseUrl: config.databaseUrl,
      readUrl: config.databaseReadUrl,
      home: config.home,
      pool: config.pool,
      onLog: (line) => logger.debug({ component: "postgres" }, line),
      onNotice: (line) => logger.warn({ component: "postgres" }, line),
    });
    cleanups.push(() => database.close());
    logger.info(
      {
        database: database.displayUrl,
        embedded: Boolean(database.embedded),
        ...(database.readDisplayUrl ? { readReplica: database.readDisplayUrl } : {}),
      },
      "database ready",
    );
    const availability = new DatabaseAvailability({
      connectionString: database.connectionString,
      embedded: database.embedded,
      logger,
    });
    cleanups.push(() => availability.stop());

    const applied = await migrateLatestAt(database.connectionString);
    if (applied.length > 0) logger.info({ migrations: applied }, `applied ${applied.length} migration(s)`);
    if (applied.length > 0 && database.embedded) {
      // The files the migrations made (hundreds on a first start) are fsynced at PostgreSQL's
      // next checkpoint; left alone, that is the shutdown checkpoint, and the first stop
      // waited for it (1–1.4 s at load 13, several seconds on a busy disk). Taken now, in the
      // background, while the server serves. A stop during it cuts only this connection:
      // PostgreSQL still finishes its checkpoints before it exits.
      void database.embedded
        .checkpoint()
        .catch((error: unknown) => logger.debug({ err: error }, "checkpoint after migrations not taken"));
    }

    await firstPooledConnection(database.knex);

    const services = createServices({
      knex: database.knex,
      readKnex: database.readKnex,
      retiredPartitions: config.retention.partitions,
      prices,
      redactor,
      retentionPolicy: config.retention.policy,
      apiKeyCacheMs: config.apiKeyCacheMs,
      webhooks: config.webhooks,
    });
    // Open subscriptions by API key: a revocation (heard on the bus, from any process) or the
    // key's expiry cuts them.
    const keyStreams = new KeyStreams();
    const bus = new LiveBus({
      connectionString: database.connectionString,
      knex: database.knex,
      horizonCheckMs: config.liveHorizonCheckMs,
      onError: (error) => {
        // Losing the database is an outage to handle (and say once), not a live bus fault;
        // so is a catch-up read that failed while the server knows it is down.
        if (isDatabaseAway(error) || availability.isDown) {
          if (!availability.isDown) logger.warn({ err: error, component: "live-bus" }, "live bus lost the database");
          availability.noteError(error);
        } else {
          logger.error({ err: error, component: "live-bus" }, "live bus error");
        }
      },
      onKeyRevoked: (keyId) => {
        services.apiKeys.forgetKey(keyId);
        const cut = keyStreams.revoke(keyId);
        if (cut > 0) logger.info({ keyId, streams: cut }, "closed the live streams of a revoked API key");
      },
      onReconnected: () => {
        services.apiKeys.forgetAll();
        // Revocation notices sent while the connection was down are lost: check the holders again.
        void services.apiKeys
          .activeKeyIds(keyStreams.keyIds())
          .then((active) => {
            for (const keyId of keyStreams.keyIds()) if (!active.has(keyId)) keyStreams.revoke(keyId);
          })
          .catch((error: unknown) => logger.warn({ err: error }, "could not re-check the keys of open streams"));
      },
    });
    await bus.start();
    cleanups.push(() => bus.stop());

    const health = createHealthCheck({
      knex: database.knex,
      embedded: Boolean(database.embedded),
      version: VERSION,
      startedAt,
      databaseDown: () => availability.isDown,
    });
    const inFlight = new InFlight();
    let started = false;
    const webAssets = createWebAssets(config.webRoot);
    if (!webAssets) logger.warn({ webRoot: config.webRoot }, "the dashboard is not built: GET / answers 404");
    const httpDeps: HttpDeps = {
      services,
      bus,
      health,
      logger,
      bodyLimitBytes: config.bodyLimitBytes,
      bodyBudget: new BodyBudget(config.bodyBudgetBytes),
      batchLimits: config.batchLimits,
      authThrottle: new AuthThrottle(services.authFailures, config.authFailures),
      keyStreams,
      databaseRetryAfter: () => availability.retryAfterSeconds(),
      onRequestError: (error) => availability.noteError(error),
      starting: () => !started,
      webAssets,
    };
    const listener = createRequestListener(httpDeps, inFlight);
    const server = createServer(listener);
    answerExpectContinue(server, listener, httpDeps.bodyLimitBytes);
    answerClientErrors(server);
    const port = await listen(server, config.port, config.host);
    const url = clientUrl(config.host, port);
    // Known only now (PORT=0 picks one); read per request, so login links made from here on start with it.
    httpDeps.publicUrl = config.publicUrl ?? url;
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    );

    await bootstrapKey(config, services, url, logger);
    if (database.embedded) {
      await writeRuntimeInfo(config.home, { pid: process.pid, url, embeddedDatabaseUrl: database.connectionString });
      cleanups.push(() => removeRuntimeInfo(config.home, process.pid));
    }

    // Partitions of events ahead of time: once now (a server off for weeks catches up before it
    // serves), then on a schedule. The SQL function locks for itself: replicas wait in turn and
    // the later ones find nothing to do.
    const ensurePartitions = async () => {
      const created = await services.partitions.ensureAhead(config.partitions);
      if (created > 0) logger.info({ created, rangeDays: config.partitions.rangeDays }, "created events partitions");
    };
    if (config.partitions.intervalMs > 0) await ensurePartitions();

    // Names this process as the lease owner of the webhook deliveries it claims.
    const webhookWorkerId = `webhooks@${hostname()}:${process.pid}`;
    // Every replica schedules every job; the advisory locks let one at a time run each. A run
    // that fails while the server knows the database is down is a warning, not an error.
    const every = (name: string, intervalMs: number, task: () => Promise<void>, lock?: AdvisoryLock) =>
      schedule(name, intervalMs, task, logger, {
        exclusive: lock ? { knex: database.knex, lock } : undefined,
        databaseDown: () => availability.isDown,
      });
    const schedulers: Scheduler[] = [
      every("partition-upkeep", config.partitions.intervalMs, ensurePartitions),
      every("retention", config.retention.intervalMs, async () => {
        const report = await services.retention.run({ dryRun: false, policy: config.retention.policy });
        const touched = report.sessions + report.sessionsArchived + report.events + report.metricPoints;
        if (touched > 0 || !report.ran) logger.info({ retention: report }, "retention run");
      }),
      every(
        "session-inactivity",
        config.inactivity.intervalMs,
        async () => {
          const swept = await services.sessions.sweepInactive(config.inactivity.policy);
          if (swept.idled + swept.ended > 0) logger.info({ sessions: swept }, "settled quiet sessions");
        },
        ADVISORY_LOCKS.sessionInactivity,
      ),
      every(
        "job-lease-recovery",
        config.jobRecoveryIntervalMs,
        async () => {
          const recovered = await services.jobs.recoverExpiredLeases();
          if (recovered.recovered + recovered.failed > 0)
            logger.info({ jobs: recovered }, "recovered expired job leases");
        },
        ADVISORY_LOCKS.jobLeaseRecovery,
      ),
      // No lock: plain deletes, harmless when two replicas run them at once.
      every("web-session-purge", config.webSessionPurgeIntervalMs, async () => {
        const purged = await services.webSessions.purgeExpired();
        if (purged.loginLinks + purged.webSessions > 0) logger.info({ purged }, "purged spent dashboard sign-ins");
      }),
      // Every replica delivers: the queue's SKIP LOCKED claim gives each delivery to one of them.
      every("webhook-delivery", config.webhooks.pollMs, async () => {
        // Drain what is due now, a batch at a time, before sleeping again.
        while ((await services.webhooks.deliverDue(webhookWorkerId)) > 0 && !stopping);
      }),
    ];

    started = true;
    logger.info(
      {
        url,
        version: VERSION,
        home: config.home,
        dashboard: Boolean(webAssets),
        heapGrowthPercent: config.heapGrowthPercent,
      },
      `logbook-server listening on ${url}`,
    );

    let stopping: Promise<void> | null = null;
    /**
     * Stop accepting, let ordinary requests finish, cut the SSE streams (clients resume
     * elsewhere from their last event id), wait for a scheduled run in progress, stop the
     * bus, close the pool and the embedded PostgreSQL.
     */
    const stop = () =>
      (stopping ??= (async () => {
        logger.info("stopping: no new connections; finishing requests in flight");
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await inFlight.whenIdle();
        inFlight.destroyAll();
        server.closeAllConnections();
        await closed;
        await Promise.all(schedulers.map((s) => s.stop()));
        await undo();
        logger.info("stopped");
      })());

    return { url, stop };
  } catch (error) {
    await undo();
    throw error;
  }
}
