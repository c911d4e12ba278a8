import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { ingestEventsInput, usageReportInput, type IngestEvent } from "@logbook/contracts";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { EventService } from "../events/event-service.js";
import { PriceBook } from "../pricing/pricing.js";
import { SessionService } from "../sessions/session-service.js";
import { UsageService } from "./usage-service.js";

type Line = IngestEvent;

/** One transcript line of an API response (what the importer sends). */
function assistantLine(
  session: string,
  at: string,
  message: { id: string; model: string; usage: Record<string, unknown> },
  extra: { parent?: string; costUSD?: number; text?: string } = {},
): Line {
  return {
    id: uuidv7(),
    externalSessionId: session,
    ...(extra.parent ? { parentExternalSessionId: extra.parent } : {}),
    eventType: "assistant",
    source: "transcript",
    occurredAt: at,
    payload: {
      type: "assistant",
      sessionId: session,
      timestamp: at,
      ...(extra.costUSD !== undefined ? { costUSD: extra.costUSD } : {}),
      message: {
        id: message.id,
        model: message.model,
        role: "assistant",
        content: [{ type: "text", text: extra.text ?? "ok" }],
        usage: message.usage,
      },
    },
  };
}

const u = (input: number, output: number, cacheRead = 0, cacheWrite = 0, oneHour = 0) => ({
  input_tokens: input,
  output_tokens: output,
  cache_read_input_tokens: cacheRead,
  cache_creation_input_tokens: cacheWrite,
  ...(oneHour
    ? { cache_creation: { ephemeral_1h_input_tokens: oneHour, ephemeral_5m_input_tokens: cacheWrite - oneHour } }
    : {}),
});

describe("UsageService", () => {
  let db: TestDatabase;
  let events: EventService;
  let sessions: SessionService;
  let usage: UsageService;
  const ingest = (lines: Line[]) => events.ingest(ingestEventsInput.parse({ events: lines }));

  beforeAll(async () => {
    db = await createTestDatabase();
    const prices = new PriceBook();
    events = new EventService({ knex: db.knex, prices });
    sessions = new SessionService({ knex: db.knex });
    usage = new UsageService({ knex: db.knex, prices });
  });
  afterAll(async () => db.destroy());

  it("costs each response once, keeps it on the message and sums it on the session", async () => {
    // One response split over two lines repeating its id and usage, then a second response.
    await ingest([
      assistantLine(
        "cost-1",
        "2026-03-01T10:00:00Z",
        { id: "msg_a", model: "claude-opus-4-6", usage: u(3, 13, 11_515, 13_835, 13_835) },
        { text: "part one" },
      ),
      assistantLine(
        "cost-1",
        "2026-03-01T10:00:01Z",
        { id: "msg_a", model: "claude-opus-4-6", usage: u(3, 13, 11_515, 13_835, 13_835) },
        { text: "part two" },
      ),
    ]);
    await ingest([
      // The same response arriving again in a later batch adds nothing.
      assistantLine("cost-1", "2026-03-01T10:00:02Z", {
        id: "msg_a",
        model: "claude-opus-4-6",
        usage: u(3, 13, 11_515, 13_835, 13_835),
      }),
      assistantLine("cost-1", "2026-03-01T10:01:00Z", {
        id: "msg_b",
        model: "claude-sonnet-4-20250514",
        usage: u(1000, 100),
      }),
    ]);
    const session = await sessions.get({ externalId: "cost-1" });
    // 0.1444475 (opus, 1h cache writes) + 0.0045 (sonnet: 0.003 + 0.0015)
    expect(session.tokens).toMatchObject({ costUsd: 0.1489475, unpricedMessages: 0, inputTokens: 1003 });
    const rows = await db.knex("session_messages").where({ session_id: session.id }).orderBy("created_at");
    expect(
      rows.map((r: Record<string, unknown>) => [r.external_message_id, r.cost_usd, r.cache_creation_1h_tokens]),
    ).toEqual([
      ["msg_a", 0.1444475, 13_835],
      ["msg_b", 0.0045, 0],
    ]);
  });

  it("lets a cost Claude Code reported win, and counts unknown models as unpriced, never free", async () => {
    await ingest([
      assistantLine(
        "cost-2",
        "2026-03-02T10:00:00Z",
        { id: "msg_r", model: "claude-sonnet-4-20250514", usage: u(1000, 100) },
        { costUSD: 0.5 },
      ),
      assistantLine("cost-2", "2026-03-02T10:00:01Z", { id: "msg_u", model: "mystery-model-1", usage: u(50, 5) }),
      assistantLine("cost-2", "2026-03-02T10:00:02Z", { id: "msg_s", model: "<synthetic>", usage: u(0, 0) }),
    ]);
    const session = await sessions.get({ externalId: "cost-2" });
    expect(session.tokens).toMatchObject({ costUsd: 0.5, unpricedMessages: 1 });
    const unknown = (await db
      .knex("session_messages")
      .where({ session_id: session.id, external_message_id: "msg_u" })
      .first()) as Record<string, unknown> | undefined;
    expect(unknown).toMatchObject({ cost_usd: null, input_tokens: 50 });
  });

  it("rolls cost up the session tree, subagents included, and reports it per model", async () => {
    await ingest([
      assistantLine("tree-root", "2026-03-03T10:00:00Z", {
        id: "msg_root",
        model: "claude-opus-4-6",
        usage: u(1000, 0),
      }),
      assistantLine(
        "tree-child",
        "2026-03-03T10:00:01Z",
        { id: "msg_child", model: "claude-haiku-4-5-20251001", usage: u(1000, 0) },
        { parent: "tree-root" },
      ),
    ]);
    const root = await sessions.get({ externalId: "tree-root" });
    const tree = await sessions.tree({ id: root.id, maxDepth: 20 });
    expect(tree.totalTokens.costUsd).toBe(0.006); // 0.005 + 0.001
    const byModel = await usage.report(usageReportInput.parse({ groupBy: "model", sessionId: root.id }));
    expect(byModel.rows.map((r) => [r.key, r.costUsd, r.sessions])).toEqual([
      ["claude-opus-4-6", 0.005, 1],
      ["claude-haiku-4-5-20251001", 0.001, 1],
    ]);
    const rootOnly = await usage.report(
      usageReportInput.parse({ groupBy: "model", sessionId: root.id, includeSubagents: false }),
    );
    expect(rootOnly.totals).toMatchObject({ costUsd: 0.005, messages: 1 });
  });

  it("buckets days, weeks and months in the caller's time zone", async () => {
    // 23:30 UTC on Sunday 2026-03-29 is already Monday 2026-03-30 in Tokyo, and 01:30 CEST in Paris.
    await ingest([
      assistantLine("tz-1", "2026-03-29T23:30:00Z", {
        id: "msg_tz1",
        model: "claude-sonnet-4-6",
        usage: u(1_000_000, 0),
      }),
      assistantLine("tz-1", "2026-03-31T23:30:00Z", {
        id: "msg_tz2",
        model: "claude-sonnet-4-6",
        usage: u(1_000_000, 0),
      }),
    ]);
    const session = await sessions.get({ externalId: "tz-1" });
    const day = (timeZone: string) =>
      usage
        .report(usageReportInput.parse({ groupBy: "day", timeZone, sessionId: session.id }))
        .then((r) => r.rows.map((x) => [x.key, x.costUsd]));
    expect(await day("UTC")).toEqual([
      ["2026-03-29", 3],
      ["2026-03-31", 3],
    ]);
    expect(await day("Asia/Tokyo")).toEqual([
      ["2026-03-30", 3],
      ["2026-04-01", 3],
    ]);
    const weeks = await usage.report(
      usageReportInput.parse({ groupBy: "week", timeZone: "Asia/Tokyo", sessionId: session.id }),
    );
    expect(weeks.rows.map((r) => [r.key, r.messages])).toEqual([["2026-03-30", 2]]);
    const weeksUtc = await usage.report(usageReportInput.parse({ groupBy: "week", sessionId: session.id }));
    expect(weeksUtc.rows.map((r) => [r.key, r.messages])).toEqual([
      ["2026-03-23", 1],
      ["2026-03-30", 1],
    ]);
    const months = await usage.report(
      usageReportInput.parse({ groupBy: "month", timeZone: "Asia/Tokyo", sessionId: session.id }),
    );
    expect(months.rows.map((r) => [r.key, r.costUsd])).toEqual([
      ["2026-03", 3],
      ["2026-04", 3],
    ]);
    expect(months.totals).toMatchObject({ costUsd: 6, messages: 2, sessions: 1, inputTokens: 2_000_000 });
  });

  it("reads a day bound as midnight in the report's time zone, so edge days are whole", async () => {
    // 23:31 UTC on 1 March is 08:31 on 2 March in Tokyo: a Tokyo report of 2 March counts it.
    await ingest([
      assistantLine("tz-days", "2026-03-01T23:31:00Z", { id: "msg_td1", model: "claude-sonnet-4-6", usage: u(10, 0) }),
      assistantLine("tz-days", "2026-03-02T00:30:00Z", { id: "msg_td2", model: "claude-sonnet-4-6", usage: u(20, 0) }),
      // 15:30 UTC on 2 March is 00:30 on 3 March in Tokyo: outside.
      assistantLine("tz-days", "2026-03-02T15:30:00Z", { id: "msg_td3", model: "claude-sonnet-4-6", usage: u(40, 0) }),
    ]);
    const session = await sessions.get({ externalId: "tz-days" });
    const tokyo = await usage.report(
      usageReportInput.parse({
        groupBy: "day",
        timeZone: "Asia/Tokyo",
        sessionId: session.id,
        from: "2026-03-02",
        to: "2026-03-03",
      }),
    );
    expect(tokyo.rows.map((r) => [r.key, r.inputTokens])).toEqual([["2026-03-02", 30]]);
    expect([tokyo.from, tokyo.to]).toEqual(["2026-03-01T15:00:00.000Z", "2026-03-02T15:00:00.000Z"]);
    const utc = await usage.report(
      usageReportInput.parse({ groupBy: "day", sessionId: session.id, from: "2026-03-02", to: "2026-03-03" }),
    );
    expect(utc.rows.map((r) => [r.key, r.inputTokens])).toEqual([["2026-03-02", 60]]);
    // A day bound may meet a date-time bound; summer time is the zone's (Paris: +01:00 in March before the 29th).
    const paris = await usage.report(
      usageReportInput.parse({
        groupBy: "day",
        timeZone: "Europe/Paris",
        from: "2026-03-02",
        to: "2026-07-01",
        sessionId: session.id,
      }),
    );
    expect([paris.from, paris.to]).toEqual(["2026-03-01T23:00:00.000Z", "2026-06-30T22:00:00.000Z"]);
    // 23:31 UTC on 1 March is 00:31 on 2 March in Paris: all three are in.
    expect(paris.totals.inputTokens).toBe(70);
    // Midnight of 2 March in Tokyo is 15:00 UTC on 1 March: 14:00 UTC is before it.
    await expect(
      usage.report(
        usageReportInput.parse({
          groupBy: "day",
          timeZone: "Asia/Tokyo",
          from: "2026-03-02",
          to: "2026-03-01T14:00:00Z",
        }),
      ),
    ).rejects.toMatchObject({ code: "INVALID_INPUT" });
  });

  it("keeps the most recent periods when the limit cuts, and says how many groups there were", async () => {
    await ingest(
      ["2025-01-05", "2025-01-06", "2025-01-07", "2025-01-08"].map((day, index) =>
        assistantLine("limit-days", `${day}T12:00:00Z`, {
          id: `msg_ld${index}`,
          model: index === 3 ? "claude-haiku-4-5" : "claude-sonnet-4-6",
          usage: u(100 * (index + 1), 0),
        }),
      ),
    );
    const session = await sessions.get({ externalId: "limit-days" });
    const days = await usage.report(usageReportInput.parse({ groupBy: "day", sessionId: session.id, limit: 2 }));
    expect(days.rows.map((r) => r.key)).toEqual(["2025-01-07", "2025-01-08"]);
    expect(days.groupCount).toBe(4);
    expect(days.totals.inputTokens).toBe(1000);
    const models = await usage.report(usageReportInput.parse({ groupBy: "model", sessionId: session.id, limit: 1 }));
    expect(models.rows.map((r) => r.key)).toEqual(["claude-sonnet-4-6"]);
    expect(models.groupCount).toBe(2);
    const all = await usage.report(usageReportInput.parse({ groupBy: "day", sessionId: session.id }));
    expect([all.rows.length, all.groupCount]).toEqual([4, 4]);
    const none = await usage.report(
      usageReportInput.parse({ groupBy: "day", sessionId: session.id, from: "2030-01-01" }),
    );
    expect([none.rows.length, none.groupCount]).toEqual([0, 0]);
  });

  // A time zone that is not an IANA name is the contract's to refuse: the usage router's tests.
  it("says NOT_FOUND for a session or project filter that names none, and an empty report for one without usage", async () => {
    const missing = "0190a000-0000-7000-8000-00000000beef";
    await expect(usage.report(usageReportInput.parse({ groupBy: "model", sessionId: missing }))).rejects.toMatchObject({
      code: "NOT_FOUND",
      message: `session ${missing} was not found`,
    });
    await expect(usage.report(usageReportInput.parse({ groupBy: "day", projectId: missing }))).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
    const quiet = await sessions.create({});
    expect(await usage.report(usageReportInput.parse({ groupBy: "model", sessionId: quiet.id }))).toMatchObject({
      rows: [],
      groupCount: 0,
    });
  });

  it("refuses a range that ends before it starts", async () => {
    await expect(
      usage.report(
        usageReportInput.parse({ groupBy: "day", from: "2026-03-02T00:00:00Z", to: "2026-03-01T00:00:00Z" }),
      ),
    ).rejects.toMatchObject({ code: "INVALID_INPUT" });
    // Compared as instants, not as text: 01:00+05:00 is 20:00Z the day before.
    await expect(
      usage.report(
        usageReportInput.parse({ groupBy: "day", from: "2026-03-02T01:00:00+05:00", to: "2026-03-01T21:00:00Z" }),
      ),
    ).resolves.toMatchObject({ groupBy: "day" });
  });

  it("reprices stored messages after a table change, keeping reported costs; a bad file changes nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "logbook-reprice-"));
    const file = join(dir, "prices.json");
    const table = {
      version: "test-1",
      date: "2026-12-01",
      source: "test",
      models: [{ id: "mystery-model-1", input: 1000, output: 1000, cacheWrite5m: 0, cacheWrite1h: 0, cacheRead: 0 }],
    };
    writeFileSync(file, JSON.stringify(table));
    const prices = new PriceBook({ overrideFile: file });
    const local = new UsageService({ knex: db.knex, prices });
    const before = await sessions.get({ externalId: "cost-2" });
    expect(before.tokens.unpricedMessages).toBe(1);

    const result = await local.reprice();
    expect(result).toMatchObject({ priceTableVersion: "test-1+builtin.2026-12-01.1", messagesRepriced: 1 });
    const after = await sessions.get({ externalId: "cost-2" });
    // The reported 0.5 stays; the mystery message now costs 55 tokens * 1000/M = 0.055.
    expect(after.tokens).toMatchObject({ costUsd: 0.555, unpricedMessages: 0 });
    // Nothing else moved: the first session's cost is what ingest computed.
    expect((await sessions.get({ externalId: "cost-1" })).tokens.costUsd).toBe(0.1489475);

    writeFileSync(file, '{"version": "test-2"');
    await expect(local.reprice()).rejects.toMatchObject({ code: "INVALID_INPUT" });
    expect((await sessions.get({ externalId: "cost-2" })).tokens.costUsd).toBe(0.555);

    // Back to the built-in table: the model is unknown again, so unpriced again.
    const builtin = await usage.reprice();
    expect(builtin.unpricedModels).toEqual(["mystery-model-1"]);
    expect((await sessions.get({ externalId: "cost-2" })).tokens).toMatchObject({ costUsd: 0.5, unpricedMessages: 1 });
    // And a second run finds nothing to change.
    expect(await usage.reprice()).toMatchObject({ messagesRepriced: 0, sessionsUpdated: 0 });
  });
});
