import {
  TERMINAL_SESSION_STATUSES,
  retentionPolicy,
  retentionRunInput,
  type RetentionPolicy,
  type RetentionReport,
  type RetentionRunInput,
} from "@logbook/contracts";
import { ADVISORY_LOCKS, tryExclusive, type Knex } from "@logbook/db";

import { clockOf, type CoreDeps } from "../deps.js";
import { invalidInputFrom, toAppError } from "../errors.js";
import { PartitionService, type RetiredPartitionMode } from "../partitions/partition-service.js";

/**
 * The pg_try_advisory_lock(namespace, key) pair held for a whole run, so that one
 * process at a time purges (several server replicas schedule retention).
 */
export const RETENTION_LOCK = ADVISORY_LOCKS.retention;

const TERMINAL: string[] = [...TERMINAL_SESSION_STATUSES];
const DAY_MS = 86_400_000;

/**
 * Tables under a session, emptied in this order before the session rows themselves
 * (artifacts before steps: an artifact points at its step).
 */
const SESSION_RECORD_TABLES = [
  { table: "artifacts", counter: "artifacts" },
  { table: "steps", counter: "steps" },
  { table: "files", counter: "files" },
  { table: "session_messages", counter: "messages" },
] as const;

type Counters = Pick<
  RetentionReport,
  "sessions" | "sessionsArchived" | "events" | "messages" | "files" | "steps" | "artifacts" | "metricPoints" | "batches"
>;

/** The sessions of the qualifying trees among some roots: every root with all its descendants. */
interface Trees {
  roots: string[];
  /** Every session of those trees, roots included. */
  ids: string[];
  /** Those not archived yet (what archiving would change). */
  unarchived: string[];
  /** Root -> the sessions of its tree, root included. */
  members: Map<string, string[]>;
}

function rowCount(result: unknown): number {
  return (result as { rowCount?: number | null }).rowCount ?? 0;
}

/**
 * Retention by policy (DESIGN.md: "policy, not a cron script").
 *
 * Sessions: a *root* session (no parent) in a terminal state whose end (`ended_at`, or
 * `last_activity_at` when it never recorded one) is older than `sessionMaxAgeDays`
 * qualifies, and goes with its whole tree — but only when every descendant is terminal
 * too: a tree with a live session anywhere in it is kept whole, however old its root. A
 * child session is never purged on its own (it goes with its root or not at all), and a
 * descendant's own age does not matter once its root qualifies. With
 * `archiveInsteadOfDelete` the tree's sessions get `archived_at` instead, and an archived
 * root is not looked at again.
 *
 * Events: with `eventMaxAgeDays`, every event that occurred before that age goes,
 * whatever its session's state (the session and its other records stay).
 *
 * OpenTelemetry metric points name their session by Claude Code's id, as text (a point may
 * come before the session exists), so they cannot go with a tree by foreign key. A point
 * goes when it is older than `eventMaxAgeDays` (when set), or when it is older than
 * `sessionMaxAgeDays` and no stored session has the id it names (its session was purged,
 * in this run or before, or never came); when archiving, only the event age applies.
 *
 * How: root sessions are taken `batchSize` at a time (in id order, so each is looked at
 * once per run). A batch's qualifying trees are grouped to about `batchSize` events, and
 * each group goes in its own short transaction that locks the group's sessions, checks
 * again that its trees still qualify (a session may have been resumed, or a child added,
 * meanwhile) and deletes their records, events and sessions (see `deleteTrees`). Old
 * events go in chunks of `batchSize` rows, oldest first, each chunk its own statement.
 * No transaction holds locks on live sessions, so ingest goes on.
 *
 * A dry run makes the same selection and counts what would go, changing nothing; on a
 * quiet database its counts equal those of the real run that follows.
 * `batches` counts batches of root sessions with something to do plus chunks of old
 * events, so it too matches between a dry run and a real one.
 */
export class RetentionService {
  private readonly partitions: PartitionService;

  constructor(
    private readonly deps: CoreDeps,
    private readonly defaultPolicy: RetentionPolicy,
    /** What becomes of an events partition wholly past the event age limit. @default "drop" */
    private readonly retiredPartitions: RetiredPartitionMode = "drop",
  ) {
    this.partitions = new PartitionService(deps);
  }

  async run(input: RetentionRunInput = retentionRunInput.parse({})): Promise<RetentionReport> {
    const started = performance.now();
    const dryRun = input.dryRun ?? true;
    const policy = this.policyFor(input);
    const counters: Counters = {
      sessions: 0,
      sessionsArchived: 0,
      events: 0,
      messages: 0,
      files: 0,
      steps: 0,
      artifacts: 0,
      metricPoints: 0,
      batches: 0,
    };
    const report = (ran: boolean): RetentionReport => ({
      dryRun,
      ran,
      policy,
      ...counters,
      durationMs: performance.now() - started,
    });

    try {
      const run = await tryExclusive(this.deps.knex, RETENTION_LOCK, async () => {
        const now = clockOf(this.deps)();
        const sessionCutoff = new Date(now.getTime() - policy.sessionMaxAgeDays * DAY_MS);
        const eventCutoff =
          policy.eventMaxAgeDays === null ? null : new Date(now.getTime() - policy.eventMaxAgeDays * DAY_MS);
        const { oldEventsInPurgedTrees, purgedSessionIds } = await this.sessionPhase({
          dryRun,
          policy,
          now,
          sessionCutoff,
          eventCutoff,
          counters,
        });
        if (eventCutoff) await this.eventPhase({ dryRun, policy, eventCutoff, oldEventsInPurgedTrees, counters });
        else if (!dryRun) {
          // Ranges a stopped run detached but did not drop (or archive): finished whatever this run's policy.
          const leftovers = await this.partitions.finishRetired();
          counters.events += leftovers.events;
          counters.batches += leftovers.partitions.length;
        }
        await this.metricPointPhase({ dryRun, policy, sessionCutoff, eventCutoff, purgedSessionIds, counters });
      });
      return report(run.ran);
    } catch (error) {
      throw toAppError(error) ?? error;
    }
  }

  /** The constructor's policy with the run's overrides, checked by the contract. */
  private policyFor(input: RetentionRunInput): RetentionPolicy {
    const overrides = Object.fromEntries(Object.entries(input.policy ?? {}).filter(([, value]) => value !== undefined));
    const parsed = retentionPolicy.safeParse({ ...this.defaultPolicy, ...overrides });
    if (!parsed.success) throw invalidInputFrom(parsed.error, "retention policy");
    return parsed.data;
  }

  /**
   * Purges (or archives, or counts) the qualifying session trees. Returns how many of
   * the events it counted are also older than the event cutoff, so that a dry run does
   * not count them twice when the event phase follows, and, for a dry run, the sessions it
   * would have purged (the metric point phase counts as if they were gone).
   */
  private async sessionPhase(args: {
    dryRun: boolean;
    policy: RetentionPolicy;
    now: Date;
    sessionCutoff: Date;
    eventCutoff: Date | null;
    counters: Counters;
  }): Promise<{ oldEventsInPurgedTrees: number; purgedSessionIds: string[] }> {
    const { dryRun, policy, now, sessionCutoff, eventCutoff, counters } = args;
    const knex = this.deps.knex;
    const archive = policy.archiveInsteadOfDelete;
    let oldEventsInPurgedTrees = 0;
    const purgedSessionIds: string[] = [];
    let after: string | null = null;

    for (;;) {
      const candidates = await this.candidateRoots(after, sessionCutoff, archive, policy.batchSize);
      const last = candidates.at(-1);
      if (last === undefined) break;
      after = last;

      const trees = await this.qualifyingTrees(knex, candidates, sessionCutoff, archive);
      if (trees.roots.length === 0) continue;

      if (dryRun) {
        if (archive) {
          counters.sessionsArchived += trees.unarchived.length;
        } else {
          const counts = await this.countRecords(trees.ids, eventCutoff);
          counters.sessions += trees.ids.length;
          counters.events += counts.events;
          counters.messages += counts.messages;
          counters.files += counts.files;
          counters.steps += counts.steps;
          counters.artifacts += counts.artifacts;
          oldEventsInPurgedTrees += counts.oldEvents;
          purgedSessionIds.push(...trees.ids);
        }
        counters.batches += 1;
        continue;
      }

      if (archive) {
        const archived = await knex.transaction(async (trx) => {
          const current = await this.lockAndRecheck(trx, trees, sessionCutoff, archive);
          if (current.unarchived.length === 0) return 0;
          return rowCount(
            await trx.raw("UPDATE sessions SET archived_at = ? WHERE id = ANY(?::uuid[]) AND archived_at IS NULL", [
              now,
              current.unarchived,
            ]),
          );
        });
        counters.sessionsArchived += archived;
        counters.batches += 1;
        continue;
      }

      // Whole trees, grouped to about `batchSize` events, each group one short transaction.
      const deleted = await this.deleteTrees(trees, sessionCutoff, policy.batchSize);
      for (const key of ["sessions", "events", "messages", "files", "steps", "artifacts"] as const)
        counters[key] += deleted[key];
      counters.batches += 1;
    }
    return { oldEventsInPurgedTrees, purgedSessionIds };
  }

  /** Events older than the cutoff, whatever their session. */
  private async eventPhase(args: {
    dryRun: boolean;
    policy: RetentionPolicy;
    eventCutoff: Date;
    oldEventsInPurgedTrees: number;
    counters: Counters;
  }): Promise<void> {
    const { dryRun, policy, eventCutoff, oldEventsInPurgedTrees, counters } = args;
    const knex = this.deps.knex;
    if (dryRun) {
      const row = (await knex("events").where("occurred_at", "<", eventCutoff).count({ n: "*" }).first()) as
        { n: number | string } | undefined;
      // Old events of trees the session phase would purge are already counted there.
      const count = Number(row?.n ?? 0) - oldEventsInPurgedTrees;
      counters.events += count;
      counters.batches += Math.ceil(count / policy.batchSize);
      return;
    }
    // Whole time partitions past the cutoff go at once (detached, then dropped or archived):
    // no row deletes, no WAL per row. What is left older than the cutoff (the default
    // partition's stragglers, the older part of the partition the cutoff falls in) is deleted
    // row by row below.
    const retired = await this.partitions.retireOlderThan(eventCutoff, this.retiredPartitions);
    counters.events += retired.events;
    counters.batches += retired.partitions.length;
    // Oldest first, each chunk starting where the previous one ended (an index range on
    // occurred_at), so no statement walks the dead rows of the chunks before it.
    let from: Date | null = null;
    for (;;) {
      // By primary key, not ctid: stays correct once events is partitioned or distributed.
      const result: unknown = await knex.raw(
        `WITH doomed AS (
           SELECT session_id, occurred_at, id FROM events
            WHERE occurred_at < :cutoff ${from ? "AND occurred_at >= :from" : ""}
            ORDER BY occurred_at LIMIT :limit
         ), gone AS (
           DELETE FROM events WHERE (session_id, occurred_at, id) IN (SELECT session_id, occurred_at, id FROM doomed)
           RETURNING occurred_at
         )
         SELECT count(*)::int AS deleted, max(occurred_at) AS last FROM gone`,
        { cutoff: eventCutoff, limit: policy.batchSize, ...(from ? { from } : {}) },
      );
      const row = (result as { rows: Array<{ deleted: number; last: Date | null }> }).rows[0];
      const deleted = row?.deleted ?? 0;
      if (deleted === 0) break;
      counters.events += deleted;
      counters.batches += 1;
      if (deleted < policy.batchSize || !row?.last) break;
      from = row.last;
    }
  }

  /**
   * Metric points past their age (see the class comment), oldest first in chunks of
   * `batchSize`, each chunk its own statement. A dry run counts them, treating the
   * sessions the session phase would purge as gone.
   */
  private async metricPointPhase(args: {
    dryRun: boolean;
    policy: RetentionPolicy;
    sessionCutoff: Date;
    eventCutoff: Date | null;
    purgedSessionIds: string[];
    counters: Counters;
  }): Promise<void> {
    const { dryRun, policy, sessionCutoff, eventCutoff, purgedSessionIds, counters } = args;
    const orphanCutoff = policy.archiveInsteadOfDelete ? null : sessionCutoff;
    if (eventCutoff === null && orphanCutoff === null) return;
    const bindings = { eventCutoff, orphanCutoff, gone: purgedSessionIds, limit: policy.batchSize };
    // A point's session "is stored" unless the dry run's session phase would have purged it.
    const due = `(p.time < :eventCutoff::timestamptz
       OR (p.time < :orphanCutoff::timestamptz AND NOT EXISTS (
         SELECT 1 FROM sessions s
          WHERE s.external_id = p.external_session_id AND s.id <> ALL(:gone::uuid[]))))`;
    if (dryRun) {
      const result: unknown = await this.deps.knex.raw(
        `SELECT count(*)::int AS n FROM otel_metric_points p WHERE ${due}`,
        bindings,
      );
      const count = (result as { rows: Array<{ n: number }> }).rows[0]?.n ?? 0;
      counters.metricPoints += count;
      counters.batches += Math.ceil(count / policy.batchSize);
      return;
    }
    for (;;) {
      const result: unknown = await this.deps.knex.raw(
        `DELETE FROM otel_metric_points WHERE id IN (
           SELECT p.id FROM otel_metric_points p WHERE ${due} ORDER BY p.time LIMIT :limit)`,
        { ...bindings, gone: [] },
      );
      const deleted = rowCount(result);
      if (deleted === 0) break;
      counters.metricPoints += deleted;
      counters.batches += 1;
      if (deleted < policy.batchSize) break;
    }
  }

  /** The next root sessions, in id order after `after`, that qualify on their own (age, state). */
  private async candidateRoots(after: string | null, cutoff: Date, archive: boolean, limit: number): Promise<string[]> {
    const query = this.deps
      .knex("sessions")
      .select("id")
      .whereNull("parent_session_id")
      .whereIn("status", TERMINAL)
      .whereRaw("coalesce(ended_at, last_activity_at) < ?", [cutoff])
      .orderBy("id")
      .limit(limit);
    if (archive) query.whereNull("archived_at");
    if (after !== null) query.where("id", ">", after);
    const rows = (await query) as Array<{ id: string }>;
    return rows.map((row) => row.id);
  }

  /**
   * Of `roots`, those that (still) qualify — terminal, old enough, unarchived when
   * archiving, and with no live session anywhere below — with all their descendants.
   */
  private async qualifyingTrees(db: Knex, roots: string[], cutoff: Date, archive: boolean): Promise<Trees> {
    const result: unknown = await db.raw(
      `WITH RECURSIVE tree AS (
         SELECT s.id AS root_id, s.id, s.status, s.archived_at
           FROM sessions s
          WHERE s.id = ANY(?::uuid[])
            AND s.parent_session_id IS NULL
            AND s.status = ANY(?::text[])
            AND coalesce(s.ended_at, s.last_activity_at) < ?
            ${archive ? "AND s.archived_at IS NULL" : ""}
         UNION ALL
         SELECT t.root_id, c.id, c.status, c.archived_at
           FROM sessions c JOIN tree t ON c.parent_session_id = t.id
       )
       SELECT root_id, id, archived_at IS NULL AS unarchived
         FROM tree
        WHERE root_id IN (SELECT root_id FROM tree GROUP BY root_id HAVING bool_and(status = ANY(?::text[])))
        ORDER BY root_id, id`,
      [roots, TERMINAL, cutoff, TERMINAL],
    );
    const rows = (result as { rows: Array<{ root_id: string; id: string; unarchived: boolean }> }).rows;
    const trees: Trees = { roots: [], ids: [], unarchived: [], members: new Map() };
    for (const row of rows) {
      if (row.root_id === row.id) trees.roots.push(row.id);
      const members = trees.members.get(row.root_id) ?? [];
      members.push(row.id);
      trees.members.set(row.root_id, members);
      trees.ids.push(row.id);
      if (row.unarchived) trees.unarchived.push(row.id);
    }
    return trees;
  }

  /**
   * Locks the sessions of `trees` (so no child can be attached and no state change can
   * commit until this transaction ends) and returns what still qualifies.
   */
  private async lockAndRecheck(trx: Knex.Transaction, trees: Trees, cutoff: Date, archive: boolean): Promise<Trees> {
    // In id order, so two transactions that lock overlapping sets cannot deadlock.
    await trx.raw("SELECT id FROM sessions WHERE id = ANY(?::uuid[]) ORDER BY id FOR UPDATE", [trees.ids]);
    return this.qualifyingTrees(trx, trees.roots, cutoff, archive);
  }

  /**
   * Deletes the qualifying `trees`, whole, with everything they hold. Trees are grouped so
   * that a group's events (counted by its sessions' `last_event_seq`: every event got its
   * seq from that counter) stay near `chunk`, and each group goes in one short transaction
   * that locks its sessions, checks again that its trees still qualify (a session may have
   * been resumed, or a child added, meanwhile) and deletes records, events and sessions.
   *
   * Why this shape (docs/performance.md, 1M-event purge): deleting "any `chunk` rows of
   * these sessions" per statement re-walked the dead rows of the chunks before it, and
   * deleting all events first and the sessions afterwards made the foreign keys' cascade
   * walk a million dead index entries whose heap pages had left the cache; 29.4 s → 6.8 s.
   * Here each row is visited once, and the cascade finds its pages still in memory.
   * A session with more than `chunk` events first loses them in seq ranges (only while
   * its tree still qualifies), so that no transaction grows past the chunk.
   */
  private async deleteTrees(
    trees: Trees,
    cutoff: Date,
    chunk: number,
  ): Promise<Record<"sessions" | "events" | "messages" | "files" | "steps" | "artifacts", number>> {
    const knex = this.deps.knex;
    const total = { sessions: 0, events: 0, messages: 0, files: 0, steps: 0, artifacts: 0 };
    const counters = await knex.raw<{ rows: Array<{ id: string; last_event_seq: number }> }>(
      "SELECT id, last_event_seq FROM sessions WHERE id = ANY(?::uuid[])",
      [trees.ids],
    );
    const sizes = new Map(counters.rows.map((row) => [row.id, row.last_event_seq]));
    for (const root of trees.roots) {
      const tree: Trees = { roots: [root], ids: trees.members.get(root) ?? [], unarchived: [], members: new Map() };
      for (const id of tree.ids) {
        const events = sizes.get(id) ?? 0;
        if (events <= chunk) continue;
        total.events += await this.deleteEventsOfLargeSession(tree, id, events, cutoff, chunk);
        sizes.set(id, 0);
      }
    }

    const deleteGroup = async (roots: string[]) => {
      if (roots.length === 0) return;
      const group: Trees = {
        roots,
        ids: roots.flatMap((root) => trees.members.get(root) ?? []),
        unarchived: [],
        members: new Map(),
      };
      const removed = await knex.transaction(async (trx) => {
        const current = await this.lockAndRecheck(trx, group, cutoff, false);
        const result = { sessions: 0, events: 0, messages: 0, files: 0, steps: 0, artifacts: 0 };
        if (current.ids.length === 0) return result;
        result.events = rowCount(await trx.raw("DELETE FROM events WHERE session_id = ANY(?::uuid[])", [current.ids]));
        for (const { table, counter } of SESSION_RECORD_TABLES) {
          result[counter] = rowCount(
            await trx.raw(`DELETE FROM ${table} WHERE session_id = ANY(?::uuid[])`, [current.ids]),
          );
        }
        result.sessions = rowCount(await trx.raw("DELETE FROM sessions WHERE id = ANY(?::uuid[])", [current.ids]));
        return result;
      });
      for (const key of Object.keys(total) as Array<keyof typeof total>) total[key] += removed[key];
    };

    let group: string[] = [];
    let groupEvents = 0;
    for (const root of trees.roots) {
      const events = (trees.members.get(root) ?? []).reduce((sum, id) => sum + (sizes.get(id) ?? 0), 0);
      if (group.length > 0 && groupEvents + events > chunk) {
        await deleteGroup(group);
        group = [];
        groupEvents = 0;
      }
      group.push(root);
      groupEvents += events;
    }
    await deleteGroup(group);
    return total;
  }

  /**
   * One session's events in seq ranges of `chunk` (see `deleteTrees`). Each range is its
   * own transaction that first locks the session's `tree` and checks again that it still
   * qualifies, as a group's transaction does: a root resumed or a live child attached
   * since the trees were chosen stops the deletion before it takes anything more.
   */
  private async deleteEventsOfLargeSession(
    tree: Trees,
    sessionId: string,
    lastSeq: number,
    cutoff: Date,
    chunk: number,
  ): Promise<number> {
    let total = 0;
    for (let from = 0; from < lastSeq; from += chunk) {
      const deleted = await this.deps.knex.transaction(async (trx) => {
        const current = await this.lockAndRecheck(trx, tree, cutoff, false);
        if (!current.ids.includes(sessionId)) return null;
        return rowCount(
          await trx.raw("DELETE FROM events WHERE session_id = ? AND seq > ? AND seq <= ?", [
            sessionId,
            from,
            from + chunk,
          ]),
        );
      });
      if (deleted === null) break;
      total += deleted;
    }
    return total;
  }

  /** What deleting `sessionIds` would remove, table by table. */
  private async countRecords(
    sessionIds: string[],
    eventCutoff: Date | null,
  ): Promise<{ events: number; oldEvents: number; messages: number; files: number; steps: number; artifacts: number }> {
    const result: unknown = await this.deps.knex.raw(
      `SELECT
         (SELECT count(*) FROM events WHERE session_id = ANY(:ids::uuid[])) AS events,
         (SELECT count(*) FROM events WHERE session_id = ANY(:ids::uuid[]) AND occurred_at < :eventCutoff::timestamptz) AS old_events,
         (SELECT count(*) FROM session_messages WHERE session_id = ANY(:ids::uuid[])) AS messages,
         (SELECT count(*) FROM files WHERE session_id = ANY(:ids::uuid[])) AS files,
         (SELECT count(*) FROM steps WHERE session_id = ANY(:ids::uuid[])) AS steps,
         (SELECT count(*) FROM artifacts WHERE session_id = ANY(:ids::uuid[])) AS artifacts`,
      { ids: sessionIds, eventCutoff },
    );
    const row = (result as { rows: Array<Record<string, number | string>> }).rows[0] ?? {};
    return {
      events: Number(row.events ?? 0),
      oldEvents: Number(row.old_events ?? 0),
      messages: Number(row.messages ?? 0),
      files: Number(row.files ?? 0),
      steps: Number(row.steps ?? 0),
      artifacts: Number(row.artifacts ?? 0),
    };
  }
}
