import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import type { IngestEvent } from "@logbook/contracts";
import { readJsonl, transcriptFixtures } from "@logbook/fixtures";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { describePlanImport, events, plan } from "../test/plan-checks.js";
import { FakeServer, runBinary, tempDir } from "../test/helpers.js";
import { type PlanItem, subagentTypesOf, TranscriptPlanner, transcriptFileOf } from "./transcript.js";

/** planImport over our transcript fixtures (the same checks run on the real corpus in transcript.corpus.test.ts). */
describePlanImport(transcriptFixtures());

describe("files written by others (issue 18)", () => {
  const { root, files } = transcriptFixtures();
  const pathOf = (name: string) => join(root, expectDefined(files.find((f) => f.endsWith(name))));

  it("a renamed file whose bookkeeping lines name no session is one session, the one its lines name", async () => {
    const path = pathOf("/renamed-before-upload.jsonl");
    const lines = readJsonl(path);
    expect(lines.filter((l) => l.sessionId === undefined).length).toBeGreaterThanOrEqual(3);
    const planned = events(await plan(path));
    expect(new Set(planned.map((e) => e.externalSessionId))).toEqual(new Set(["8e4b2a61-0f9d-4c37-b5a8-3d6e1f7c9b20"]));
  });

  it("uuids that are 8-4-4-4-12 hex but not RFC 9562 stay the events' ids, so parentUuid links hold", async () => {
    const path = pathOf("/d9c3b7a5-1e2f-4a6b-8c9d-0e1f2a3b4c5d.jsonl");
    const lines = readJsonl(path) as Array<{ uuid: string; parentUuid: string | null }>;
    const planned = events(await plan(path));
    expect(planned.map((e) => e.id)).toEqual(lines.map((l) => l.uuid.toLowerCase()));
    const ids = new Set(planned.map((e) => e.id));
    for (const event of planned.slice(1)) expect(ids.has(expectDefined(event.parentUuid).toLowerCase())).toBe(true);
    // none of them is an RFC 9562 uuid: this is the case the fix is for
    expect(lines.every((l) => !/^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab]/i.test(l.uuid))).toBe(true);
  });
});

describe("planImport edge cases", () => {
  const write = (name: string, lines: string[]) => {
    const path = join(tempDir("edge"), name);
    writeFileSync(path, lines.join("\n"));
    return path;
  };

  it("reports malformed lines with their line number and plans the rest", async () => {
    const path = write("11111111-2222-4333-8444-555555555555.jsonl", [
      JSON.stringify({
        type: "user",
        uuid: "aaaaaaaa-0000-4000-8000-000000000001",
        timestamp: "2026-01-01T00:00:00Z",
        sessionId: "s",
      }),
      '{"type": "user", broken',
      "",
      "[1, 2]",
      JSON.stringify({
        type: "assistant",
        uuid: "aaaaaaaa-0000-4000-8000-000000000002",
        timestamp: "2026-01-01T00:00:01Z",
        sessionId: "s",
      }),
    ]);
    const items = await plan(path);
    expect(items.map((item) => [item.kind, item.line])).toEqual([
      ["event", 1],
      ["error", 2],
      ["error", 4],
      ["event", 5],
    ]);
  });

  it("lines without uuid or timestamp get stable ids and times; identical lines stay distinct", async () => {
    const summary = JSON.stringify({ type: "summary", summary: "S", leafUuid: "x" });
    const path = write("22222222-2222-4333-8444-555555555555.jsonl", [
      summary,
      summary,
      JSON.stringify({
        type: "user",
        uuid: "aaaaaaaa-0000-4000-8000-000000000003",
        timestamp: "2026-01-01T10:00:00.000Z",
        sessionId: "s2",
      }),
      JSON.stringify({ type: "file-history-snapshot", messageId: "m" }),
    ]);
    const planned = events(await plan(path));
    expect(planned.map((e) => e.occurredAt)).toEqual(Array(4).fill("2026-01-01T10:00:00.000Z"));
    expect(new Set(planned.map((e) => e.id)).size).toBe(4);
    // sessionId missing: the session the file's other lines name, not the file's name
    expect(planned.map((e) => e.externalSessionId)).toEqual(Array(4).fill("s2"));
    expect(events(await plan(path)).map((e) => e.id)).toEqual(planned.map((e) => e.id));
  });

  it("a line without sessionId takes the session of the line before it; the file's name only when no line names one", async () => {
    const path = write("33333333-aaaa-4333-8444-555555555555.jsonl", [
      JSON.stringify({ type: "summary", summary: "first" }),
      JSON.stringify({ type: "user", uuid: "aaaaaaaa-0000-4000-8000-0000000000a1", sessionId: "one" }),
      JSON.stringify({ type: "mode", mode: "normal" }),
      JSON.stringify({ type: "user", uuid: "aaaaaaaa-0000-4000-8000-0000000000a2", sessionId: "two" }),
      JSON.stringify({ type: "file-history-snapshot", messageId: "m" }),
    ]);
    expect(events(await plan(path)).map((e) => e.externalSessionId)).toEqual(["one", "one", "one", "two", "two"]);
    const nameless = write("44444444-aaaa-4333-8444-555555555555.jsonl", [
      JSON.stringify({ type: "summary", summary: "only bookkeeping" }),
    ]);
    expect(expectDefined(events(await plan(nameless))[0]).externalSessionId).toBe(
      "44444444-aaaa-4333-8444-555555555555",
    );
  });

  it("a file without any timestamp gets the epoch, the same every time", async () => {
    const path = write("33333333-2222-4333-8444-555555555555.jsonl", [
      JSON.stringify({ type: "summary", summary: "only" }),
    ]);
    expect(expectDefined(events(await plan(path))[0]).occurredAt).toBe("1970-01-01T00:00:00.000Z");
  });
});

describe("a subagent's type, from the Task call that started it", () => {
  const fixtures = transcriptFixtures();
  const typesOf = (planned: IngestEvent[]) => {
    const bySession = new Map<string, Set<string | undefined>>();
    for (const e of planned.filter((e) => e.parentExternalSessionId !== undefined)) {
      const types = bySession.get(expectDefined(e.externalSessionId)) ?? new Set();
      types.add(e.agentType);
      bySession.set(expectDefined(e.externalSessionId), types);
    }
    return [...bySession.values()].map((types) => [...types]);
  };

  it("inline chains: each of its lines gets the type its prompt's call asked for", async () => {
    const planned = events(
      await plan(join(fixtures.root, "projects/-Users-sam-code-todo/c4a2e8f1-5d7b-4e39-b6c0-8e1f2a3b4c5d.jsonl")),
    );
    expect(typesOf(planned)).toEqual([["general-purpose"], ["component-writer"]]);
    expect(planned.filter((e) => e.parentExternalSessionId === undefined).every((e) => e.agentType === undefined)).toBe(
      true,
    );
  });

  it("a subagent file: the type from its parent's file, read beside it; compaction's agent has none", async () => {
    const folder = join(fixtures.root, "projects/-home-dev-work-ledger/7d3e9b52-4c1a-4f08-9e6b-2a5c8d1f0e37/subagents");
    expect(typesOf(events(await plan(join(folder, "agent-a5e2c90.jsonl"))))).toEqual([["Explore"]]);
    expect(typesOf(events(await plan(join(folder, "agent-acompact-3f81b2.jsonl"))))).toEqual([[undefined]]);
  });

  const line = (fields: Record<string, unknown>) =>
    JSON.stringify({ sessionId: "s-types", timestamp: "2026-01-01T00:00:00Z", ...fields });
  const call = (id: string, prompt: string, type: string) =>
    line({
      type: "assistant",
      uuid: `bbbbbbbb-0000-4000-8000-0000000000${id}`,
      message: {
        role: "assistant",
        content: [{ type: "tool_use", id: `toolu_${id}`, name: "Task", input: { prompt, subagent_type: type } }],
      },
    });
  const childFile = (root: string, agentId: string, prompt: string) => {
    const folder = join(root, "s-types", "subagents");
    mkdirSync(folder, { recursive: true });
    const path = join(folder, `agent-${agentId}.jsonl`);
    writeFileSync(
      path,
      [
        line({
          type: "user",
          isSidechain: true,
          agentId,
          parentUuid: null,
          uuid: "cccccccc-0000-4000-8000-000000000001",
          message: { role: "user", content: prompt },
        }),
        line({
          type: "assistant",
          isSidechain: true,
          agentId,
          parentUuid: "cccccccc-0000-4000-8000-000000000001",
          uuid: "cccccccc-0000-4000-8000-000000000002",
          message: { role: "assistant", content: [{ type: "text", text: "done" }] },
        }),
      ].join("\n"),
    );
    return path;
  };

  it("a planner resumed from a saved state (sync) keeps a subagent's type for its later lines", async () => {
    const parentPath = join(tempDir("types-resume"), "s-types.jsonl");
    writeFileSync(parentPath, call("09", "Look around", "Explore"));
    const file = transcriptFileOf("/p/s-types/subagents/agent-a9.jsonl");
    const first = new TranscriptPlanner(file, { parentSubagentTypes: await subagentTypesOf(parentPath) });
    const child = (n: number, content: string, parentUuid: string | null) =>
      line({
        type: "user",
        isSidechain: true,
        agentId: "a9",
        parentUuid,
        uuid: `dddddddd-0000-4000-8000-00000000000${n}`,
        message: { role: "user", content },
      });
    const planned = (items: PlanItem[]) => items.flatMap((item) => (item.kind === "event" ? [item.event] : []));
    expect(planned(first.feed(child(1, "Look around", null), 1)).map((e) => e.agentType)).toEqual(["Explore"]);
    // Resumed later without the parent's calls (sync reads them only for a file read from its start).
    const resumed = new TranscriptPlanner(file, { state: first.snapshot() });
    const later = planned(resumed.feed(child(2, "and the tests", "dddddddd-0000-4000-8000-000000000001"), 2));
    expect(later.map((e) => e.agentType)).toEqual(["Explore"]);
  });

  it("calls with the same prompt and different types leave it unknown; one type asked twice is kept", async () => {
    const root = tempDir("types");
    writeFileSync(
      join(root, "s-types.jsonl"),
      [
        call("01", "Look around", "Explore"),
        call("02", "Look around", "Plan"),
        call("03", "Plan it", "Plan"),
        call("04", "Plan it", "Plan"),
      ].join("\n"),
    );
    expect(typesOf(events(await plan(childFile(root, "a1", "Look around"))))).toEqual([[undefined]]);
    expect(typesOf(events(await plan(childFile(root, "a2", "Plan it"))))).toEqual([["Plan"]]);
  });

  it("a subagent file without its parent's file, or with a folder in its place: planned as before, no type", async () => {
    const planned = events(await plan(childFile(tempDir("types-alone"), "a3", "Look around")));
    expect(planned).toHaveLength(2);
    expect(typesOf(planned)).toEqual([[undefined]]);
    const odd = tempDir("types-folder");
    mkdirSync(join(odd, "s-types.jsonl"));
    const items = await plan(childFile(odd, "a4", "Look around"));
    expect(items.filter((item) => item.kind === "error")).toEqual([]);
    expect(typesOf(events(items))).toEqual([[undefined]]);
  });
});

describe("logbook-hook import (built binary, stand-in server: unit test of reporting)", () => {
  const fake = new FakeServer();
  beforeAll(() => fake.start());
  afterAll(() => fake.stop());

  it("reports a malformed line as file:line, imports the rest, prints the summary, exits 1", async () => {
    const seen = new Set<string>();
    fake.respond = (q) => {
      const sent = (JSON.parse(q.body) as { events: Array<{ id: string }> }).events;
      let accepted = 0;
      for (const e of sent) if (!seen.has(e.id) && seen.add(e.id)) accepted++;
      return {
        status: 200,
        body: { result: { data: { accepted, duplicates: sent.length - accepted, ids: sent.map((e) => e.id) } } },
      };
    };
    const folder = join(tempDir("imp"), "proj");
    mkdirSync(folder);
    const file = join(folder, "44444444-2222-4333-8444-555555555555.jsonl");
    writeFileSync(
      file,
      [
        JSON.stringify({
          type: "user",
          uuid: "aaaaaaaa-0000-4000-8000-000000000004",
          timestamp: "2026-01-01T00:00:00Z",
          sessionId: "s4",
        }),
        "not json at all",
        JSON.stringify({
          type: "assistant",
          uuid: "aaaaaaaa-0000-4000-8000-000000000005",
          timestamp: "2026-01-01T00:00:01Z",
          sessionId: "s4",
        }),
      ].join("\n"),
    );
    const env = { LOGBOOK_HOME: tempDir("imp"), LOGBOOK_URL: fake.url, LOGBOOK_API_KEY: "k" };
    const r = await runBinary(["import", folder, "--json"], { env });
    expect(r.stderr).toContain(`${file}:2: not JSON`);
    expect(JSON.parse(r.stdout)).toEqual({
      files: 1,
      sessions: 1,
      events: 2,
      accepted: 2,
      duplicates: 0,
      errors: 1,
      replacedCharacters: 0,
    });
    expect(r.code).toBe(1);
    const again = await runBinary(["import", folder, "--json"], { env });
    expect(JSON.parse(again.stdout)).toMatchObject({ events: 2, accepted: 0, duplicates: 2 });
    const human = await runBinary(["import", folder], { env });
    expect(human.stdout).toBe("files 1, sessions 1, events 2: 0 accepted, 2 duplicates, 1 errors\n");
  });

  it("a line the server refuses is found by splitting the batch and reported; the rest is stored", async () => {
    fake.respond = (q) => {
      const sent = (JSON.parse(q.body) as { events: Array<{ id: string }> }).events;
      if (sent.some((e) => e.id === "aaaaaaaa-0000-4000-8000-000000000007"))
        return { status: 400, body: { error: { message: "no thanks" } } };
      return {
        status: 200,
        body: { result: { data: { accepted: sent.length, duplicates: 0, ids: sent.map((e) => e.id) } } },
      };
    };
    const folder = tempDir("imp");
    const file = join(folder, "55555555-2222-4333-8444-555555555555.jsonl");
    writeFileSync(
      file,
      [6, 7, 8]
        .map((n) =>
          JSON.stringify({
            type: "user",
            uuid: `aaaaaaaa-0000-4000-8000-00000000000${n}`,
            timestamp: "2026-01-01T00:00:00Z",
          }),
        )
        .join("\n"),
    );
    const r = await runBinary(["import", file, "--json"], {
      env: { LOGBOOK_HOME: folder, LOGBOOK_URL: fake.url, LOGBOOK_API_KEY: "k" },
    });
    expect(r.stderr).toContain(`${file}:2: refused by the server (HTTP 400): no thanks`);
    expect(JSON.parse(r.stdout)).toMatchObject({ events: 3, accepted: 2, errors: 1 });
  });
});
