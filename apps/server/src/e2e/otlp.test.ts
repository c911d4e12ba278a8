/**
 * OTLP/HTTP intake end to end: what Claude Code exports (our recorded-shape fixtures, JSON
 * and protobuf, gzipped or not) posted to the built server, read back through the SDK
 * beside the hook events of the same session; OTLP's answers for partial success and for
 * refusals (401/403, 415, 400, 413) in the request's own encoding.
 */
import { gzipSync } from "node:zlib";

import { otelFixture } from "@logbook/fixtures";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { decodeExportResponse, decodeStatus, encodeOtlpProtobuf } from "../otlp-wire.js";
import { startHarness, type Harness } from "./harness.js";

const SESSION = "0b5e6f2a-7c1d-4e8b-9a3f-2d4c6e8a0b1c";
const JSON_TYPE = "application/json";
const PROTOBUF = "application/x-protobuf";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h?.stop());

function post(
  path: string,
  body: Uint8Array | string,
  headers: Record<string, string> = {},
  apiKey: string | null = h.server.apiKey,
) {
  return fetch(`${h.server.url}${path}`, {
    method: "POST",
    headers: { ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}), ...headers },
    body,
  });
}

const hook = (payload: Record<string, unknown>) =>
  post("/hooks/claude-code", JSON.stringify({ session_id: SESSION, cwd: "/home/dev/uploader", ...payload }), {
    "content-type": JSON_TYPE,
  });

describe("POST /v1/logs, /v1/metrics, /v1/traces", () => {
  it("stores what Claude Code exports, in both encodings, joined to the hook events of the same session", async () => {
    for (const payload of [
      { hook_event_name: "UserPromptSubmit", prompt: "Add a retry to the uploader" },
      { hook_event_name: "PreToolUse", tool_name: "Edit", tool_use_id: "toolu_01FixtureEdit", tool_input: {} },
      { hook_event_name: "PostToolUse", tool_name: "Edit", tool_use_id: "toolu_01FixtureEdit", tool_input: {} },
    ])
      expect((await hook(payload)).status).toBe(200);

    // Logs as gzipped JSON, then the same records as protobuf: stored once.
    const logs = otelFixture("logs");
    const asJson = await post("/v1/logs", gzipSync(logs.jsonText), {
      "content-type": JSON_TYPE,
      "content-encoding": "gzip",
    });
    expect(asJson.status).toBe(200);
    expect(asJson.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await asJson.json()).toEqual({});
    const asProtobuf = await post("/v1/logs", logs.protobuf, { "content-type": PROTOBUF });
    expect(asProtobuf.status).toBe(200);
    expect(asProtobuf.headers.get("content-type")).toBe(PROTOBUF);
    expect(decodeExportResponse("logs", new Uint8Array(await asProtobuf.arrayBuffer()))).toEqual({});

    const metrics = await post("/v1/metrics", gzipSync(otelFixture("metrics").protobuf), {
      "content-type": PROTOBUF,
      "content-encoding": "gzip",
    });
    expect(metrics.status).toBe(200);
    const traces = await post("/v1/traces", otelFixture("traces").jsonText, { "content-type": JSON_TYPE });
    expect(traces.status).toBe(200);

    const session = await h.client.sessions.get.query({ externalId: SESSION });
    const { items } = await h.client.events.listForSession.query({ sessionId: session.id, limit: 100 });
    const otelLogs = items.filter((e) => e.source === "otel" && (e.payload as { otel?: string }).otel === "log");
    expect(otelLogs).toHaveLength(6);
    expect(items.filter((e) => e.source === "hook")).toHaveLength(3);
    expect(items.filter((e) => e.source === "otel" && (e.payload as { otel?: string }).otel === "span")).toHaveLength(
      3,
    );

    // The tool's hook events and its OTel events share the tool use id.
    const edit = items.filter((e) => e.toolUseId === "toolu_01FixtureEdit").map((e) => [e.source, e.eventType]);
    expect(edit).toEqual(
      expect.arrayContaining([
        ["hook", "PreToolUse"],
        ["hook", "PostToolUse"],
        ["otel", "claude_code.tool_decision"],
        ["otel", "claude_code.tool_result"],
        ["otel", "claude_code.tool"],
      ]),
    );

    const points = await h.client.telemetry.metrics.query({ sessionId: session.id, name: "claude_code.token.usage" });
    expect(points).toHaveLength(6);
    expect(points.find((p) => p.attributes.type === "cacheRead")).toMatchObject({
      model: "claude-sonnet-4-5-20250929",
      value: 18000,
      userId: "e7c9a1b3-5d2f-4e6a-9b8c-7d6e5f4a3b2c",
      externalSessionId: SESSION,
    });

    // No transcript carries these requests yet: both api_requests count, once each.
    const usage = await h.client.telemetry.usage.query({ sessionId: session.id });
    expect(usage.otelOnly).toMatchObject({ requests: 2, inputTokens: 2000, outputTokens: 430, costUsd: "0.0144" });
    expect(usage.total).toMatchObject({ inputTokens: 2000, cacheReadTokens: 18000, costUsd: "0.0144" });
  });

  it("says in a partial success with nothing rejected how many characters it stored as U+FFFD; a resend stores and says nothing", async () => {
    const session = { key: "session.id", value: { stringValue: "otlp-nul" } };
    const logs = {
      resourceLogs: [
        {
          scopeLogs: [
            {
              logRecords: [
                {
                  timeUnixNano: "1795003200000000000",
                  body: { stringValue: "claude_code.tool_result" },
                  attributes: [session, { key: "output", value: { stringValue: "bin\u0000ary\ud800" } }],
                },
                // The prompt is also the event's message: one character sent, counted once.
                {
                  timeUnixNano: "1795003200000000000",
                  body: { stringValue: "claude_code.user_prompt" },
                  attributes: [session, { key: "prompt", value: { stringValue: "hi\ud800" } }],
                },
              ],
            },
          ],
        },
      ],
    };
    const metrics = {
      resourceMetrics: [
        {
          scopeMetrics: [
            {
              metrics: [
                {
                  name: "claude_code.token.usage",
                  sum: {
                    dataPoints: [
                      {
                        asDouble: 5,
                        timeUnixNano: "1795003200000000000",
                        attributes: [session, { key: "note", value: { stringValue: "\u0000" } }],
                      },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
    };
    const send = async (path: string, body: unknown) => {
      const response = await post(path, JSON.stringify(body), { "content-type": JSON_TYPE });
      expect(response.status).toBe(200);
      return response.json();
    };
    expect(await send("/v1/logs", logs)).toEqual({
      partialSuccess: { rejectedLogRecords: "0", errorMessage: "3 characters PostgreSQL cannot hold stored as U+FFFD" },
    });
    expect(await send("/v1/logs", logs)).toEqual({});
    expect(await send("/v1/metrics", metrics)).toEqual({
      partialSuccess: { rejectedDataPoints: "0", errorMessage: "1 character PostgreSQL cannot hold stored as U+FFFD" },
    });
    expect(await send("/v1/metrics", metrics)).toEqual({});

    // In a metric's name: NUL refuses that metric's points alone (PostgreSQL's text cannot
    // hold it), a lone surrogate is stored as U+FFFD and counted.
    const point = { asDouble: 1, timeUnixNano: "1795003200000000000", attributes: [session] };
    const names = {
      resourceMetrics: [
        {
          scopeMetrics: [
            {
              metrics: [
                { name: "bad\u0000name", sum: { dataPoints: [point] } },
                { name: "claude_code.cost.usage\udc00", sum: { dataPoints: [point] } },
              ],
            },
          ],
        },
      ],
    };
    expect(await send("/v1/metrics", names)).toEqual({
      partialSuccess: {
        rejectedDataPoints: "1",
        errorMessage:
          "1 data point: name: must not contain NUL characters; 1 character PostgreSQL cannot hold stored as U+FFFD",
      },
    });
    const stored = await h.db.knex("otel_metric_points").where({ external_session_id: "otlp-nul" }).pluck("name");
    expect(stored.sort()).toEqual(["claude_code.cost.usage\uFFFD", "claude_code.token.usage"]);
  });

  it("answers partial success when some records name no session, in the request's encoding", async () => {
    const request = {
      resourceLogs: [
        {
          scopeLogs: [
            {
              logRecords: [
                {
                  timeUnixNano: "1795003200000000000",
                  body: { stringValue: "claude_code.user_prompt" },
                  attributes: [{ key: "session.id", value: { stringValue: "otlp-partial" } }],
                },
                { timeUnixNano: "1795003200000000000", body: { stringValue: "claude_code.user_prompt" } },
              ],
            },
          ],
        },
      ],
    };
    const expected = {
      partialSuccess: {
        rejectedLogRecords: "1",
        errorMessage: "1 log record: no session.id attribute (on the record or its resource)",
      },
    };
    const json = await post("/v1/logs", JSON.stringify(request), { "content-type": JSON_TYPE });
    expect(json.status).toBe(200);
    expect(await json.json()).toEqual(expected);
    const binary = await post("/v1/logs", encodeOtlpProtobuf("logs", request), { "content-type": PROTOBUF });
    expect(binary.status).toBe(200);
    expect(decodeExportResponse("logs", new Uint8Array(await binary.arrayBuffer()))).toEqual(expected);
  });

  it("refuses with OTLP's Status (and the API's error in JSON): key, media type, encoding, body", async () => {
    const logs = otelFixture("logs");
    const noKey = await post("/v1/logs", logs.jsonText, { "content-type": JSON_TYPE }, null);
    expect(noKey.status).toBe(401);
    expect(await noKey.json()).toMatchObject({ code: 16, error: { code: "UNAUTHORIZED" } });

    const readOnly = await h.server.createKey(["read"], "otlp-read-only");
    const forbidden = await post("/v1/logs", logs.protobuf, { "content-type": PROTOBUF }, readOnly);
    expect(forbidden.status).toBe(403);
    expect(decodeStatus(new Uint8Array(await forbidden.arrayBuffer()))).toEqual({
      code: 7,
      message: "this API key does not have the 'ingest' scope",
    });

    const text = await post("/v1/logs", logs.jsonText, { "content-type": "text/plain" });
    expect(text.status).toBe(415);
    expect(((await text.json()) as { message: string }).message).toMatch(
      /send application\/json or application\/x-protobuf/,
    );

    const brotli = await post("/v1/logs", logs.jsonText, { "content-type": JSON_TYPE, "content-encoding": "br" });
    expect(brotli.status).toBe(415);
    expect(((await brotli.json()) as { message: string }).message).toBe(
      "content-encoding 'br' is not supported: send gzip or no encoding",
    );

    const garbage = await post("/v1/metrics", Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), {
      "content-type": PROTOBUF,
    });
    expect(garbage.status).toBe(400);
    expect(decodeStatus(new Uint8Array(await garbage.arrayBuffer())).message).toMatch(
      /^the body is not a protobuf ExportMetricsServiceRequest/,
    );

    const badTime = await post(
      "/v1/logs",
      JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ timeUnixNano: "yesterday" }] }] }] }),
      { "content-type": JSON_TYPE },
    );
    expect(badTime.status).toBe(400);
    const refusal = (await badTime.json()) as { code: number; error: { issues: Array<{ path: string }> } };
    expect(refusal.code).toBe(3);
    expect(expectDefined(refusal.error.issues[0]).path).toBe("resourceLogs.0.scopeLogs.0.logRecords.0.timeUnixNano");

    const notGzip = await post("/v1/logs", logs.jsonText, { "content-type": JSON_TYPE, "content-encoding": "gzip" });
    expect(notGzip.status).toBe(400);
    expect(((await notGzip.json()) as { message: string }).message).toMatch(/^the body is not valid gzip/);

    // 9 MiB of zeros gzip to a few KiB: the limit holds for what a body inflates to.
    const bomb = await post("/v1/logs", gzipSync(Buffer.alloc(9 * 1024 * 1024)), {
      "content-type": JSON_TYPE,
      "content-encoding": "gzip",
    });
    expect(bomb.status).toBe(413);

    const get = await fetch(`${h.server.url}/v1/traces`);
    expect(get.status).toBe(405);
  });
});
