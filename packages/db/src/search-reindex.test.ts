import { randomUUID } from "node:crypto";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { payloadTextFunctionSql } from "./migrations/20261202094516_faster_event_search_text.js";
import { ADDED_TEXT_KEYS } from "./migrations/20261204100000_search_titles_and_summaries.js";
import { reindexEventSearch, type ReindexProgress } from "./search-reindex.js";
import { createTestDatabase, type TestDatabase } from "./testing/index.js";

/**
 * Rows stored while the search text skipped tool calls after a text block, or the keys
 * `20261204100000_search_titles_and_summaries` added, keep that vector until
 * `reindex-search` writes them again: here they are stored under the old function body,
 * the current body is put back, and the command must find and fix exactly those rows.
 */

/** The function body the migrations make today. */
const CURRENT_BODY = payloadTextFunctionSql("every-block", ADDED_TEXT_KEYS);

const DAY_MS = 86_400_000;

/** Payload shapes: which the old body read differently from the new one. */
const SHAPES = [
  {
    changed: true,
    payload: (n: number) => ({
      type: "assistant",
      message: {
        role: "assistant",
        content: [
          { type: "text", text: `Looking at file ${n}` },
          { type: "tool_use", name: "Read", input: { file_path: "/repo/src/notes.md", pattern: `numbat${n}` } },
        ],
      },
    }),
  },
  {
    changed: true,
    payload: (n: number) => ({
      type: "assistant",
      message: {
        role: "assistant",
        content: [
          { type: "thinking", thinking: "hidden" },
          { type: "tool_use", name: "Bash", input: { command: `echo wombat ${n}` } },
        ],
      },
    }),
  },
  {
    changed: false,
    payload: (n: number) => ({
      type: "assistant",
      message: { role: "assistant", content: [{ type: "tool_use", name: "Grep", input: { pattern: `quoll${n}` } }] },
    }),
  },
  { changed: false, payload: (n: number) => ({ hook_event_name: "UserPromptSubmit", prompt: `platypus ${n}` }) },
  {
    changed: true,
    payload: (n: number) => ({ hook_event_name: "PostCompact", trigger: "auto", compact_summary: `bilby ${n}` }),
  },
  { changed: true, payload: (n: number) => ({ type: "ai-title", aiTitle: `quokka ${n}`, sessionId: "s" }) },
  // A key the text reads now, but not a string: the filter looks at the row, nothing changes.
  { changed: false, payload: (n: number) => ({ hook_event_name: "TaskCreated", subject: n, task_id: "7" }) },
  {
    changed: false,
    payload: (n: number) => ({ type: "user", message: { role: "user", content: `echidna ${n}` } }),
  },
];

describe("reindexEventSearch", () => {
  let db: TestDatabase;
  let changedRows = 0;
  const rowsPerShape = 40;

  const found = async (word: string) => {
    const result = await db.knex.raw<{ rows: Array<{ n: string }> }>(
      "SELECT count(*) AS n FROM events WHERE search_vector @@ websearch_to_tsquery('english', ?)",
      [word],
    );
    return Number(result.rows[0]?.n);
  };
  /** Every column a reader sees, the vector aside, in a stable order. */
  const visibleRows = async () =>
    (await db.knex.raw<{ rows: unknown[] }>("SELECT to_jsonb(e) - 'search_vector' AS row FROM events e ORDER BY id"))
      .rows;
  const staleRows = async () => {
    const result = await db.knex.raw<{ rows: Array<{ n: string }> }>(
      `SELECT count(*) AS n FROM events
        WHERE search_vector IS DISTINCT FROM to_tsvector('english', logbook_event_search_text(message, payload))`,
    );
    return Number(result.rows[0]?.n);
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    // Stored under the old rule, as a database migrated before the change holds them.
    await db.knex.raw(payloadTextFunctionSql("up-to-first-without"));
    const [session] = await db.knex("sessions").insert({}).returning<Array<{ id: string }>>("id");
    const sessionId = expectDefined(session, "the session").id;
    const rows = [];
    let seq = 0;
    for (let n = 0; n < rowsPerShape; n++) {
      for (const shape of SHAPES) {
        seq += 1;
        if (shape.changed) changedRows += 1;
        rows.push({
          id: randomUUID(),
          session_id: sessionId,
          seq,
          event_type: "transcript.line",
          source: "transcript",
          message: `line ${seq}`,
          payload: shape.payload(n),
          // Spread over this week's range, one 30 days back, and the default partition (the epoch).
          occurred_at: new Date([Date.now(), Date.now() - 30 * DAY_MS, 0][seq % 3] ?? 0),
        });
      }
    }
    await db.knex.batchInsert("events", rows, 100);
    await db.knex.raw(CURRENT_BODY);
  });
  afterAll(async () => db.destroy());

  it("rewrites exactly the rows whose vector the new rule changes, and nothing else of them", async () => {
    expect(await found("numbat7")).toBe(0);
    expect(await found("wombat")).toBe(0);
    expect(await found("bilby")).toBe(0);
    expect(await found("quokka")).toBe(0);
    expect(await staleRows()).toBe(changedRows);
    const before = await visibleRows();

    const partitions: string[] = [];
    const batches: ReindexProgress[] = [];
    // One page per transaction: many batches even on this small table.
    const result = await reindexEventSearch(db.knex, {
      pagesPerBatch: 1,
      onBatch: (progress) => batches.push(progress),
      onPartition: (done) => partitions.push(done.partition),
    });

    // Progress: a report per page, counting up within each partition to what it reports at its end.
    expect(batches.length).toBe(result.pages);
    for (const partition of partitions) {
      const reports = batches.filter((b) => b.partition === partition);
      expect(reports.map((b) => b.pages)).toEqual(reports.map((_, i) => i + 1));
      for (const report of reports) expect(report.pages).toBeLessThanOrEqual(report.pagesTotal);
    }
    expect(batches.at(-1)?.rowsRewritten).toBeGreaterThan(0);
    expect(batches.reduce((n, b, i) => (b.partition !== batches[i + 1]?.partition ? n + b.rowsRewritten : n), 0)).toBe(
      changedRows,
    );

    expect(result.rowsRewritten).toBe(changedRows);
    expect(result.partitions).toBe(partitions.length);
    expect(partitions).toContain("events_default");
    expect(partitions.at(-1)).toBe("events_default");
    expect(result.pages).toBeGreaterThan(partitions.length);
    expect(await staleRows()).toBe(0);
    expect(await found("numbat7")).toBe(1);
    expect(await found("wombat")).toBe(rowsPerShape);
    expect(await found("quoll3")).toBe(1);
    expect(await found("bilby")).toBe(rowsPerShape);
    expect(await found("quokka 12")).toBe(1);
    expect(await visibleRows()).toEqual(before);
  });

  it("writes nothing when run again, whether it compares the changed shapes or every row", async () => {
    expect((await reindexEventSearch(db.knex)).rowsRewritten).toBe(0);
    expect((await reindexEventSearch(db.knex, { all: true })).rowsRewritten).toBe(0);
  });

  it("with `all`, also fixes rows the changed-shapes filter does not look at", async () => {
    // Hook rows whose vector went stale some other way, as a future change of the text could leave them.
    await db.knex.raw(
      "CREATE OR REPLACE FUNCTION logbook_event_payload_text(payload jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $fn$ SELECT NULL $fn$",
    );
    await db.knex.raw("UPDATE events SET payload = payload WHERE payload ->> 'hook_event_name' = 'UserPromptSubmit'");
    await db.knex.raw(CURRENT_BODY);
    expect(await found("platypus")).toBe(0);
    expect(await staleRows()).toBe(rowsPerShape);

    expect((await reindexEventSearch(db.knex)).rowsRewritten).toBe(0);
    expect(await found("platypus")).toBe(0);
    expect((await reindexEventSearch(db.knex, { all: true, pagesPerBatch: 3 })).rowsRewritten).toBe(rowsPerShape);
    expect(await found("platypus")).toBe(rowsPerShape);
    expect(await staleRows()).toBe(0);
  });

  it("refuses a batch size that is not a positive integer", async () => {
    await expect(reindexEventSearch(db.knex, { pagesPerBatch: 0 })).rejects.toThrow(/positive integer/);
    await expect(reindexEventSearch(db.knex, { pagesPerBatch: 1.5 })).rejects.toThrow(/positive integer/);
  });
});
