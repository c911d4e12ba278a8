import {
  exportLogsRequest,
  exportMetricsRequest,
  exportTraceRequest,
  ingestEvent,
  type ParsedIngestEvent,
} from "@logbook/contracts";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { otelFixture } from "@logbook/fixtures";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { EventService } from "../events/event-service.js";
import { SessionService } from "../sessions/session-service.js";
import { OtelService } from "./otel-service.js";

const FIXTURE_SESSION = "0b5e6f2a-7c1d-4e8b-9a3f-2d4c6e8a0b1c";
const logs = () => exportLogsRequest.parse(otelFixture("logs").json);
const metrics = () => exportMetricsRequest.parse(otelFixture("metrics").json);
const traces = () => exportTraceRequest.parse(otelFixture("traces").json);

const s = (key: string, value: string) => ({ key, value: { stringValue: value } });

/** One Claude Code api_request log record (attributes as Claude Code sends them: text). */
function apiRequest(session: string, requestId: string, second: number, cost: string, input: number) {
  return {
    timeUnixNano: String(BigInt(Date.UTC(2026, 10, 20, 9, 0, second)) * 1_000_000n),
    body: { stringValue: "claude_code.api_request" },
    attributes: [
      s("session.id", session),
      s("event.name", "api_request"),
      s("request_id", requestId),
      s("model", "claude-sonnet-4-5-20250929"),
      s("cost_usd", cost),
      s("input_tokens", String(input)),
      s("output_tokens", "10"),
      s("cache_read_tokens", "0"),
      s("cache_creation_tokens", "0"),
    ],
  };
}
const logsOf = (records: unknown[]) =>
  exportLogsRequest.parse({ resourceLogs: [{ scopeLogs: [{ logRecords: records }] }] });

/** The transcript line of the same response (Claude Code's `requestId`), with its usage. */
function transcriptLine(session: string, requestId: string, messageId: string, input: number): ParsedIngestEvent {
  return ingestEvent.parse({
    id: uuidv7(),
    externalSessionId: session,
    eventType: "assistant",
    source: "transcript",
    occurredAt: "2026-11-20T09:00:30Z",
    payload: {
      type: "assistant",
      requestId,
      timestamp: "2026-11-20T09:00:30Z",
      message: {
        id: messageId,
        model: "claude-sonnet-4-5-20250929",
        role: "assistant",
        content: [],
        usage: { input_tokens: input, output_tokens: 10 },
      },
    },
  });
}

describe("OtelService", () => {
  let db: TestDatabase;
  let otel: OtelService;
  let events: EventService;
  let sessions: SessionService;
  beforeAll(async () => {
    db = await createTestDatabase();
    events = new EventService({ knex: db.knex });
    otel = new OtelService({ knex: db.knex }, events);
    sessions = new SessionService({ knex: db.knex });
  });
  afterAll(async () => db.destroy());

  const eventsOf = async (externalId: string) => {
    const session = await sessions.get({ externalId });
    return (await events.listForSession({ sessionId: session.id, limit: 100 })).items;
  };

  it("stores Claude Code's log events whole on the session named by session.id, once however often sent", async () => {
    expect(await otel.ingestLogs(logs())).toEqual({ accepted: 6, rejected: 0, replacedCharacters: 0 });
    expect(await otel.ingestLogs(logs())).toEqual({ accepted: 6, rejected: 0, replacedCharacters: 0 });
    const stored = await eventsOf(FIXTURE_SESSION);
    expect(stored.map((e) => [e.eventType, e.source, e.level])).toEqual([
      ["claude_code.user_prompt", "otel", "info"],
      ["claude_code.api_request", "otel", "info"],
      ["claude_code.tool_decision", "otel", "info"],
      ["claude_code.tool_result", "otel", "info"],
      ["claude_code.api_error", "otel", "error"],
      ["claude_code.api_request", "otel", "info"],
    ]);
    const toolResult = expectDefined(stored[3]);
    expect(toolResult).toMatchObject({ toolName: "Edit", toolUseId: "toolu_01FixtureEdit" });
    expect(toolResult.payload).toMatchObject({
      otel: "log",
      attributes: { "prompt.id": "p-1", success: "true", "user.account_uuid": "e7c9a1b3-5d2f-4e6a-9b8c-7d6e5f4a3b2c" },
      resource: { "service.name": "claude-code", "service.version": "2.1.39" },
      scope: { name: "com.anthropic.claude_code.events", version: "2.1.39" },
    });
    expect(expectDefined(stored[0]).message).toBe("Add a retry to the uploader");
    expect(expectDefined(stored[0]).occurredAt).toBe("2026-11-18T12:00:01.000Z");
  });

  it("refuses records without a session.id (partial success, saying why) and keeps the rest", async () => {
    const request = logsOf([
      apiRequest("otel-partial", "req_p1", 1, "0.01", 5),
      { body: { stringValue: "claude_code.user_prompt" }, attributes: [s("prompt", "who am I")] },
      { body: { stringValue: "claude_code.user_prompt" } },
    ]);
    expect(await otel.ingestLogs(request)).toEqual({
      accepted: 1,
      rejected: 2,
      errorMessage: "2 log records: no session.id attribute (on the record or its resource)",
      replacedCharacters: 0,
    });
    expect(await eventsOf("otel-partial")).toHaveLength(1);
  });

  it("stores spans as events of their session", async () => {
    expect(await otel.ingestTraces(traces())).toEqual({ accepted: 3, rejected: 0, replacedCharacters: 0 });
    const spans = (await eventsOf(FIXTURE_SESSION)).filter((e) => (e.payload as { otel?: string }).otel === "span");
    expect(spans.map((e) => [e.eventType, e.toolUseId])).toEqual([
      ["claude_code.interaction", null],
      ["claude_code.llm_request", null],
      ["claude_code.tool", "toolu_01FixtureEdit"],
    ]);
    expect(expectDefined(spans[0]).payload).toMatchObject({
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      durationMs: 12_000,
    });
  });

  it("keeps metric points as a time series by session, user and model, once per point", async () => {
    expect(await otel.ingestMetrics(metrics())).toEqual({ accepted: 12, rejected: 0, replacedCharacters: 0 });
    expect(await otel.ingestMetrics(metrics())).toEqual({ accepted: 12, rejected: 0, replacedCharacters: 0 });
    const bySession = await otel.listMetricPoints({ externalSessionId: FIXTURE_SESSION, limit: 200 });
    expect(bySession).toHaveLength(12);
    const cost = await otel.listMetricPoints({ name: "claude_code.cost.usage", limit: 200 });
    expect(cost.map((p) => [p.model, p.value, p.unit, p.kind, p.temporality])).toEqual(
      expect.arrayContaining([
        ["claude-sonnet-4-5-20250929", 0.0123, "USD", "sum", "delta"],
        ["claude-haiku-4-5-20251001", 0.0021, "USD", "sum", "delta"],
      ]),
    );
    const byUser = await otel.listMetricPoints({
      userId: "e7c9a1b3-5d2f-4e6a-9b8c-7d6e5f4a3b2c",
      model: "claude-haiku-4-5-20251001",
      limit: 200,
    });
    expect(byUser.map((p) => [p.name, p.attributes.type ?? null]).sort()).toEqual([
      ["claude_code.cost.usage", null],
      ["claude_code.token.usage", "input"],
      ["claude_code.token.usage", "output"],
    ]);
    const session = await sessions.get({ externalId: FIXTURE_SESSION });
    expect(await otel.listMetricPoints({ sessionId: session.id, limit: 200 })).toHaveLength(12);
    expect(
      await otel.listMetricPoints({ externalSessionId: FIXTURE_SESSION, to: "2026-11-18T12:00:00Z", limit: 5 }),
    ).toEqual([]);
  });

  it("refuses alone a data point whose name or model PostgreSQL cannot store as text, and keeps the rest", async () => {
    const point = (model: string) => ({
      asInt: "1",
      timeUnixNano: "1795003200000000000",
      attributes: [s("session.id", "otel-text"), s("model", model)],
    });
    const request = exportMetricsRequest.parse({
      resourceMetrics: [
        {
          scopeMetrics: [
            {
              metrics: [
                { name: "m\u0000", gauge: { dataPoints: [point("a")] } },
                { name: "m", gauge: { dataPoints: [point("x".repeat(256)), point("b")] } },
              ],
            },
          ],
        },
      ],
    });
    expect(await otel.ingestMetrics(request)).toEqual({
      accepted: 1,
      rejected: 2,
      errorMessage: "1 data point: name: must not contain NUL characters; 1 data point: model: at most 255 characters",
      replacedCharacters: 0,
    });
  });

  it("refuses a data point without a time", async () => {
    const request = exportMetricsRequest.parse({
      resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: "m", gauge: { dataPoints: [{ asInt: "1" }] } }] }] }],
    });
    expect(await otel.ingestMetrics(request)).toEqual({
      accepted: 0,
      rejected: 1,
      errorMessage: "1 data point: a data point of m has no timeUnixNano",
      replacedCharacters: 0,
    });
  });

  /**
   * The session's counters come from transcript messages; an api_request adds to them only
   * when no transcript line carries its request id. Sent in either order, the totals agree.
   */
  it.each([
    ["OTel first, then the transcript", "otel-first"],
    ["the transcript first, then OTel", "transcript-first"],
  ])("never counts a request twice: %s", async (_, order) => {
    const session = `dedupe-${order}`;
    const sendOtel = () =>
      otel.ingestLogs(
        logsOf([apiRequest(session, "req_A", 1, "0.5", 1000), apiRequest(session, "req_B", 2, "0.25", 200)]),
      );
    const sendTranscript = () => events.ingest({ events: [transcriptLine(session, "req_A", "msg_A", 1000)] });
    if (order === "otel-first") {
      await sendOtel();
      const before = await otel.sessionUsage((await sessions.get({ externalId: session })).id);
      expect(before.otelOnly).toMatchObject({ requests: 2, inputTokens: 1200, costUsd: "0.75" });
      expect(before.total).toMatchObject({ inputTokens: 1200, costUsd: "0.75" });
      await sendTranscript();
    } else {
      await sendTranscript();
      await sendOtel();
    }
    const stored = await sessions.get({ externalId: session });
    const usage = await otel.sessionUsage(stored.id);
    expect(usage.reported).toMatchObject({ requests: 2, inputTokens: 1200, outputTokens: 20, costUsd: "0.75" });
    expect(usage.otelOnly).toMatchObject({ requests: 1, inputTokens: 200, outputTokens: 10, costUsd: "0.25" });
    // The transcript message is counted by the session (1000 input tokens), req_B on top.
    expect(stored.tokens.inputTokens).toBe(1000);
    expect(usage.total.inputTokens).toBe(1200);
    expect(usage.total.outputTokens).toBe(20);
    expect(Number(usage.total.costUsd)).toBeCloseTo(Number(stored.tokens.costUsd) + 0.25, 10);
  });

  it("counts a subagent's transcript line as carrying the request (Claude Code reports it on the main session)", async () => {
    await events.ingest({
      events: [
        { ...transcriptLine("sub-parent:agent:x", "req_S", "msg_S", 50), parentExternalSessionId: "sub-parent" },
      ],
    });
    await otel.ingestLogs(logsOf([apiRequest("sub-parent", "req_S", 1, "0.1", 50)]));
    const parent = await sessions.get({ externalId: "sub-parent" });
    expect((await otel.sessionUsage(parent.id)).otelOnly.requests).toBe(0);
  });
});
