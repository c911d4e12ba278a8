/**
 * `GET /export/sessions/<id>`: a session's export streamed as a file, against the built
 * server. What is in the file is ExportService's (packages/core export-service.test.ts);
 * here: the route gives the same bytes as `sessions.export`, refuses before the first byte
 * with the API's errors, takes the dashboard's cookie, serves what `sessions.export` is too
 * large to answer, and a download its client stopped reading does not hold a graceful stop.
 */
import { request, type IncomingMessage } from "node:http";

import { INLINE_EXPORT_MAX_CHARS } from "@logbook/core";
import { createLogbookClient, isLogbookError, type LogbookError } from "@logbook/sdk";
import { expectDefined } from "@logbook/vitest-config/expect-defined";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { failure, startHarness, type Harness } from "./harness.js";

let h: Harness;
let sessionId: string;
let bigSessionId: string;

const LINES = 700; // more than two of the export's pages
const BIG_LINE_CHARS = 9_000;

/** Transcript lines of a session and its subagent, as Claude Code writes them. */
function transcript(external: string, count: number, filler = "") {
  return Array.from({ length: count }, (_, i) => {
    const sub = i % 7 === 6;
    const line = {
      type: i % 2 === 0 ? "user" : "assistant",
      uuid: crypto.randomUUID(),
      sessionId: external,
      timestamp: new Date(Date.UTC(2026, 11, 1, 10, 0, 0) + i * 1000).toISOString(),
      message: { role: i % 2 === 0 ? "user" : "assistant", content: `line ${i} "quoted"\n${filler}` },
      ...(sub ? { agentId: "helper", isSidechain: true } : {}),
    };
    return {
      id: line.uuid,
      externalSessionId: sub ? `${external}:agent:helper` : external,
      ...(sub ? { parentExternalSessionId: external, agentId: "helper" } : {}),
      eventType: line.type,
      source: "transcript" as const,
      occurredAt: line.timestamp,
      payload: line,
    };
  });
}

const url = (id: string, query = "?format=jsonl") => `${h.server.url}/export/sessions/${id}${query}`;
const withKey = (key: string) => ({ headers: { authorization: `Bearer ${key}` } });

beforeAll(async () => {
  h = await startHarness();
  const events = transcript("export-route", LINES);
  for (let i = 0; i < events.length; i += 500)
    await h.client.events.ingest.mutate({ events: events.slice(i, i + 500) });
  sessionId = (await h.client.sessions.get.query({ externalId: "export-route" })).id;
  // Over what `sessions.export` answers in one value.
  const lines = Math.ceil((INLINE_EXPORT_MAX_CHARS * 1.1) / BIG_LINE_CHARS);
  const big = transcript("export-big", lines, "x".repeat(BIG_LINE_CHARS));
  for (let i = 0; i < big.length; i += 200) await h.client.events.ingest.mutate({ events: big.slice(i, i + 200) });
  bigSessionId = (await h.client.sessions.get.query({ externalId: "export-big" })).id;
}, 120_000);
afterAll(async () => h?.stop());

describe("GET /export/sessions/<id>", () => {
  it("streams the same file as sessions.export, named, counted, not to be cached", async () => {
    for (const format of ["jsonl", "json", "md"] as const) {
      const response = await fetch(url(sessionId, `?format=${format}`), withKey(h.server.apiKey));
      expect(response.status, format).toBe(200);
      const body = await response.text();
      const answered = await h.client.sessions.export.query({ id: sessionId, format });
      expect(body === answered.content, `${format}: the same bytes`).toBe(true);
      expect(response.headers.get("content-type")).toBe(answered.mediaType);
      expect(response.headers.get("content-disposition")).toBe(`attachment; filename="export-route.${format}"`);
      expect(response.headers.get("cache-control")).toBe("no-store");
      expect(response.headers.get("transfer-encoding")).toBe("chunked");
      expect(response.headers.get("x-logbook-sessions")).toBe("2");
      expect(response.headers.get("x-logbook-events")).toBe(String(answered.events));
    }
    const lines = (await (await fetch(url(sessionId), withKey(h.server.apiKey))).text()).trimEnd().split("\n");
    expect(lines).toHaveLength(LINES);
  });

  it("refuses before the first byte, in the API's error shape", async () => {
    const refusal = async (target: string, init: RequestInit = withKey(h.server.apiKey)) => {
      const response = await fetch(target, init);
      expect(response.headers.get("content-disposition")).toBeNull();
      return { status: response.status, error: ((await response.json()) as { error: Record<string, unknown> }).error };
    };
    expect(await refusal(url(sessionId), {})).toMatchObject({ status: 401, error: { code: "UNAUTHORIZED" } });
    expect(await refusal(url(sessionId), withKey("lbk_not_a_key"))).toMatchObject({ status: 401 });
    const ingestOnly = await h.server.createKey(["ingest"], "export-ingest-only");
    expect(await refusal(url(sessionId), withKey(ingestOnly))).toMatchObject({
      status: 403,
      error: { code: "FORBIDDEN", message: "this API key does not have the 'read' scope" },
    });
    expect(await refusal(url("0190a0b0-0000-7000-8000-000000000000"))).toMatchObject({
      status: 404,
      error: { code: "NOT_FOUND", appCode: "NOT_FOUND" },
    });
    const badFormat = await refusal(url(sessionId, "?format=pdf"));
    expect(badFormat).toMatchObject({ status: 400, error: { code: "BAD_REQUEST", appCode: "INVALID_INPUT" } });
    expect(badFormat.error.message).toContain("must be one of md, json, jsonl");
    expect(await refusal(url(sessionId, ""))).toMatchObject({ status: 400 });
    expect(await refusal(url("not-a-uuid"))).toMatchObject({ status: 400, error: { appCode: "INVALID_INPUT" } });
    expect(await refusal(url("%E0%A4%A"))).toMatchObject({ status: 400 });
    const posted = await fetch(url(sessionId), { method: "POST", ...withKey(h.server.apiKey) });
    expect([posted.status, posted.headers.get("allow")]).toEqual([405, "GET"]);
  });

  it("the SDK's downloadExport: the file as a stream with its name and counts; refusals as LogbookErrors", async () => {
    const download = await h.client.downloadExport({ id: sessionId, format: "json" });
    expect(download).toMatchObject({ fileName: "export-route.json", mediaType: "application/json", sessions: 2 });
    const text = await new Response(download.body).text();
    const answered = await h.client.sessions.export.query({ id: sessionId, format: "json" });
    expect(text === answered.content).toBe(true);
    expect(download.events).toBe(answered.events);

    const missing = await failure(
      h.client.downloadExport({ id: "0190a0b0-0000-7000-8000-000000000000", format: "md" }),
    );
    expect(isLogbookError(missing)).toBe(true);
    expect(missing).toMatchObject({ code: "NOT_FOUND", httpStatus: 404, appCode: "NOT_FOUND" });
    const badId = await failure(h.client.downloadExport({ id: "nope", format: "md" }));
    expect(badId).toMatchObject({ code: "BAD_REQUEST", httpStatus: 400, appCode: "INVALID_INPUT" });
    expect((badId as LogbookError).issues.map((issue) => issue.path)).toEqual(["id"]);
    const ingestOnly = h.clientFor(await h.server.createKey(["ingest"], "export-sdk-ingest-only"));
    expect(await failure(ingestOnly.downloadExport({ id: sessionId, format: "md" }))).toMatchObject({
      code: "FORBIDDEN",
      httpStatus: 403,
    });
    const nowhere = createLogbookClient({ url: "http://127.0.0.1:1", apiKey: h.server.apiKey, retry: false });
    expect(await failure(nowhere.downloadExport({ id: sessionId, format: "md" }))).toMatchObject({
      code: "NETWORK_ERROR",
      httpStatus: null,
    });
  });

  it("takes the dashboard's session cookie", async () => {
    const link = await h.client.auth.createLoginLink.mutate();
    const signedIn = await fetch(link.url, { redirect: "manual" });
    const cookie = expectDefined((signedIn.headers.get("set-cookie") ?? "").split(";")[0]);
    const response = await fetch(url(sessionId, "?format=md"), { headers: { cookie } });
    expect(response.status).toBe(200);
    expect((await response.text()).startsWith("# ")).toBe(true);
    const stale = await fetch(url(sessionId), { headers: { cookie: "logbook_session=lbs_gone" } });
    expect(stale.status).toBe(401);
  });

  it("downloads what sessions.export is too large to answer (422, naming this route)", async () => {
    const error = (await failure(h.client.sessions.export.query({ id: bigSessionId, format: "jsonl" }))) as {
      message: string;
      data?: { httpStatus?: number; appCode?: string };
    };
    expect(error.data).toMatchObject({ httpStatus: 422, appCode: "ANSWER_TOO_LARGE" });
    expect(error.message).toContain(`GET /export/sessions/${bigSessionId}?format=jsonl`);

    const response = await fetch(url(bigSessionId), withKey(h.server.apiKey));
    expect(response.status).toBe(200);
    const body = await response.text();
    expect(body.length).toBeGreaterThan(INLINE_EXPORT_MAX_CHARS);
    const lines = body.trimEnd().split("\n");
    expect(lines).toHaveLength(Number(response.headers.get("x-logbook-events")));
    expect((JSON.parse(expectDefined(lines.at(-1))) as { message: { content: string } }).message.content).toContain(
      "x".repeat(BIG_LINE_CHARS),
    );
  });

  it("a download whose client stopped reading does not hold a graceful stop", async () => {
    const target = new URL(url(bigSessionId));
    const stalled = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request(target, withKey(h.server.apiKey), (res) => {
        res.pause(); // read nothing more: the server's writes back up
        resolve(res);
      });
      req.on("error", reject);
      req.end();
    });
    expect(stalled.statusCode).toBe(200);
    // The export cannot fit in the socket buffers: the server is waiting on this client. A
    // graceful stop that waited for it would never end (the test's timeout).
    await h.server.kill("SIGTERM");
    expect(h.server.exit).toEqual({ code: 0, signal: null });
    stalled.destroy();
  }, 60_000);
});
