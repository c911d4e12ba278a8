import { describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import {
  LIMITS,
  claudeCodeHookPayload,
  createWebhookInput,
  createSessionInput,
  dayOrDateTime,
  event,
  getProjectInput,
  getSessionInput,
  ingestEventsInput,
  listRecentEventsInput,
  listSessionEventsInput,
  listSessionsInput,
  jsonObject,
  hookEnvelope,
  relativePath,
  retentionRunInput,
  searchEventsInput,
  sessionStoreAppendInput,
  storedDateTime,
  storedJsonObject,
  subagentExternalId,
  text,
  typeName,
  webhookUrl,
} from "./index.js";

function nested(depth: number): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  let node = root;
  for (let i = 1; i < depth; i++) {
    const child: Record<string, unknown> = {};
    node.next = child;
    node = child;
  }
  return root;
}

const messages = (result: { success: boolean; error?: { issues: Array<{ message: string }> } }) =>
  result.success ? [] : expectDefined(result.error).issues.map((i) => i.message);

/** What each kind of bad input gets from the contracts, before anything reaches a service. */
describe("contracts", () => {
  it("refuse NUL characters in text columns and say so", () => {
    expect(messages(text().safeParse("a\u0000b"))).toEqual(["must not contain NUL characters"]);
    expect(text(5).safeParse("123456").success).toBe(false);
    expect(text().safeParse("ordinary ✓").success).toBe(true);
  });

  it("keep JSON objects exactly as given, `__proto__` keys included, and cap their depth", () => {
    const hostile = JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"x": 1}}}') as Record<
      string,
      unknown
    >;
    const parsed = jsonObject().parse(hostile);
    expect(parsed).toBe(hostile);
    expect(Object.keys(parsed)).toEqual(["__proto__", "constructor"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(jsonObject().safeParse(nested(LIMITS.maxJsonDepth)).success).toBe(true);
    expect(messages(jsonObject().safeParse(nested(LIMITS.maxJsonDepth + 1)))).toEqual([
      `must not be nested deeper than ${LIMITS.maxJsonDepth} levels`,
    ]);
    // Far deeper than any stack: checked without recursion.
    expect(jsonObject().safeParse(nested(200_000)).success).toBe(false);
    expect(messages(jsonObject().safeParse([1, 2]))).toEqual(["must be a JSON object"]);
  });

  it("pass stored JSON objects out as they are: the same object, `__proto__` keys included", () => {
    const stored = JSON.parse('{"__proto__": {"polluted": true}, "a": [1, {"b": null}]}') as Record<string, unknown>;
    const out = event.shape.payload.parse(stored);
    expect(out).toBe(stored);
    expect(Object.keys(out)).toEqual(["__proto__", "a"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    for (const bad of [[1, 2], null, "text", 3]) {
      expect(messages(storedJsonObject().safeParse(bad))).toEqual(["must be a JSON object"]);
    }
  });

  it("accept only relative file paths without '..' segments", () => {
    for (const bad of ["/etc/passwd", "\\\\server\\share", "C:\\Windows", "../secret", "a/../../b", "a\\..\\b", ""]) {
      expect(relativePath().safeParse(bad).success, bad).toBe(false);
    }
    for (const good of ["src/a.ts", "a/..b/c", "..hidden", "dir/file..txt"]) {
      expect(relativePath().safeParse(good).success, good).toBe(true);
    }
  });

  it("take event and job type names of a safe shape only", () => {
    for (const good of ["PreToolUse", "session_started", "file-history-snapshot", "a.b:c"]) {
      expect(typeName().safeParse(good).success, good).toBe(true);
    }
    for (const bad of ["", "1abc", "drop table events; --", "x".repeat(101), "a b"]) {
      expect(typeName().safeParse(bad).success, bad).toBe(false);
    }
  });

  it("need exactly one way of naming an event's session, and bound the batch", () => {
    const event = { eventType: "note" };
    expect(messages(ingestEventsInput.safeParse({ events: [event] }))).toEqual([
      "give exactly one of sessionId or externalSessionId",
    ]);
    expect(
      ingestEventsInput.safeParse({
        events: [{ ...event, externalSessionId: "x", sessionId: "018f3c1e-7b3a-7c00-8000-000000000000" }],
      }).success,
    ).toBe(false);
    expect(messages(ingestEventsInput.safeParse({ events: [] }))).toEqual(["send at least one event"]);
    const tooMany = Array.from({ length: LIMITS.maxBatch + 1 }, () => ({ ...event, externalSessionId: "x" }));
    expect(messages(ingestEventsInput.safeParse({ events: tooMany }))).toEqual([
      `send at most ${LIMITS.maxBatch} events per call`,
    ]);
    const ok = ingestEventsInput.parse({ events: [{ ...event, externalSessionId: "x" }] });
    expect(ok.events[0]).toMatchObject({ source: "api", level: "info", payload: {} });
  });

  it("read a hook payload loosely: unknown fields and events stay, the essentials are required", () => {
    const payload = { session_id: "s", hook_event_name: "SomethingNew", extra: { deep: [1] } };
    expect(claudeCodeHookPayload.parse(payload)).toMatchObject(payload);
    const missing = claudeCodeHookPayload.safeParse({ hook_event_name: "Stop" });
    expect(missing.success).toBe(false);
    expect(expectDefined(expectDefined(missing.error).issues[0]).path).toEqual(["session_id"]);
  });

  it("give retention overrides no defaults, so the server's policy is kept", () => {
    expect(retentionRunInput.parse({ policy: {} })).toEqual({ dryRun: true, policy: {} });
    expect(retentionRunInput.parse({ dryRun: false, policy: { sessionMaxAgeDays: 30 } }).policy).toEqual({
      sessionMaxAgeDays: 30,
    });
  });

  it("name subagent sessions from their parent and agent ids, and check session fields", () => {
    expect(subagentExternalId("abc", "a1")).toBe("abc:agent:a1");
    expect(createSessionInput.safeParse({ externalId: "" }).success).toBe(false);
    expect(createSessionInput.safeParse({ status: "in_progress" }).success).toBe(false);
    expect(createSessionInput.safeParse({ status: "waiting_input", title: "t" }).success).toBe(true);
  });

  it("refuse the year 0000 by name in input date-times, which PostgreSQL's calendar lacks", () => {
    const yearZero = "the year 0000 does not exist in PostgreSQL's calendar; the earliest is 0001";
    expect(messages(storedDateTime().safeParse("0000-06-01T00:00:00Z"))).toEqual([yearZero]);
    expect(storedDateTime().safeParse("0001-01-01T00:00:00Z").success).toBe(true);
    expect(storedDateTime().safeParse("2026-12-04T10:00:00+02:00").success).toBe(true);
    for (const notDateTime of ["yesterday", "0000-01-01", "0000-13-01T00:00:00Z"]) {
      expect(messages(storedDateTime().safeParse(notDateTime)), notDateTime).toEqual([
        "must be an ISO-8601 date-time, e.g. 2026-11-22T14:00:00Z",
      ]);
    }
    expect(messages(dayOrDateTime().safeParse("0000-12-31"))).toEqual([yearZero]);
    expect(dayOrDateTime().safeParse("0001-01-01").success).toBe(true);
    const ingest = ingestEventsInput.safeParse({
      events: [{ externalSessionId: "x", eventType: "note", occurredAt: "0000-01-01T00:00:00Z" }],
    });
    expect(messages(ingest)).toEqual([yearZero]);
    expect(messages(hookEnvelope.safeParse({ occurredAt: "0000-01-01T00:00:00Z", payload: {} }))).toEqual([yearZero]);
  });

  it("check a hook envelope's machine id as every other text: no NUL, at most 255 characters, in our words", () => {
    expect(messages(hookEnvelope.safeParse({ machineId: "a\u0000b", payload: {} }))).toEqual([
      "must not contain NUL characters",
    ]);
    expect(messages(hookEnvelope.safeParse({ machineId: "m".repeat(256), payload: {} }))).toEqual([
      "must be at most 255 characters",
    ]);
    expect(hookEnvelope.safeParse({ machineId: "laptop-7", payload: {} }).success).toBe(true);
  });

  it("check a session store key's project and subpath as text: no NUL, not empty, at most 1,000 characters", () => {
    const key = { projectKey: "-home-me-app", sessionId: "s1", entries: [] };
    expect(sessionStoreAppendInput.safeParse(key).success).toBe(true);
    expect(messages(sessionStoreAppendInput.safeParse({ ...key, projectKey: "a\u0000b" }))).toEqual([
      "must not contain NUL characters",
    ]);
    expect(messages(sessionStoreAppendInput.safeParse({ ...key, subpath: "agent-\u0000" }))).toEqual([
      "must not contain NUL characters",
    ]);
    expect(messages(sessionStoreAppendInput.safeParse({ ...key, projectKey: "" }))).toEqual(["must not be empty"]);
    expect(messages(sessionStoreAppendInput.safeParse({ ...key, subpath: "x".repeat(1001) }))).toEqual([
      "must be at most 1000 characters",
    ]);
  });

  it("say how to name a session or a project when neither way is given", () => {
    const oneWay = "give the session's id or its externalId (one of them, nothing else)";
    expect(messages(getSessionInput.safeParse({}))).toEqual([oneWay]);
    expect(messages(getSessionInput.safeParse({ id: "bad" }))).toEqual(["must be a UUID"]);
    const id = "0190a000-0000-7000-8000-000000000000";
    expect(messages(getSessionInput.safeParse({ id, externalId: "both" }))).toEqual([oneWay]);
    // One way given with a field of neither: that field is named.
    expect(messages(getSessionInput.safeParse({ id, pinned: true }))).toEqual(['unknown field "pinned": it takes id']);
    expect(messages(getProjectInput.safeParse({}))).toEqual([
      "give the project's id or its path (one of them, nothing else)",
    ]);
    expect(messages(getProjectInput.safeParse({ path: "" }))).toEqual(["must not be empty"]);
  });

  it("refuse a reversed time range wherever one is taken, naming `to`", () => {
    const from = "2026-12-02T00:00:00Z";
    const to = "2026-12-01T00:00:00Z";
    const sessionId = "0190a0b0-0000-7000-8000-000000000000";
    for (const result of [
      listSessionsInput.safeParse({ from, to }),
      listSessionEventsInput.safeParse({ sessionId, from, to }),
      listRecentEventsInput.safeParse({ from, to }),
      searchEventsInput.safeParse({ query: "x", from, to }),
    ]) {
      expect(result.success ? [] : result.error.issues.map((i) => [i.path.join("."), i.message])).toEqual([
        ["to", "must be later than from"],
      ]);
    }
    expect(listSessionsInput.safeParse({ from: to, to: from }).success).toBe(true);
  });

  it("refuse a search that names nothing to find, only words to leave out", () => {
    const refused = ["name a word or phrase to find: a -word only leaves words out"];
    for (const query of ["-test", '-"flaky test"', "-a -b or -c"]) {
      expect(messages(searchEventsInput.safeParse({ query })), query).toEqual(refused);
    }
    for (const query of ["flaky -test", '"exact phrase" -skip', "src/money.ts", "a-b"]) {
      expect(searchEventsInput.safeParse({ query }).success, query).toBe(true);
    }
  });

  it("refuse a webhook URL that is not one with the URL rule's words, never by throwing", () => {
    const notUrl = "must be an http:// or https:// URL";
    for (const bad of ["not a url", "http://", "http://exa mple.com", "http://[::1", "ftp://example.com"]) {
      const result = webhookUrl().safeParse(bad);
      expect(messages(result), bad).toContain(notUrl);
    }
    expect(messages(webhookUrl().safeParse("https://user:pw@example.com/in"))).toEqual([
      "must not carry a user name or password",
    ]);
    expect(messages(webhookUrl().safeParse("https://example.com/in#part"))).toEqual(["must not have a #fragment"]);
    expect(webhookUrl().parse("  https://example.com/in  ")).toBe("https://example.com/in");
    const create = createWebhookInput.safeParse({ url: "not a url", events: ["session.completed"] });
    expect(messages(create)).toContain(notUrl);
  });
});
