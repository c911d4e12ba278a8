import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { basename, join } from "node:path";

import { ingestEvent, subagentExternalId as contractsSubagentExternalId, type IngestEvent } from "@logbook/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  FakeServer,
  materializeTranscripts,
  runBinary,
  SAMPLES,
  tempDir,
  transcriptSampleFiles,
} from "../test/helpers.js";
import { findTranscriptFiles } from "./importer.js";
import { planImport, type PlanItem } from "./transcript.js";

/**
 * What the importer would send for every sample transcript, checked against counts made here
 * independently from the raw files (whole-file reads are fine in a test).
 */

async function plan(path: string): Promise<PlanItem[]> {
  const items: PlanItem[] = [];
  for await (const item of planImport(path)) items.push(item);
  return items;
}

const events = (items: PlanItem[]): IngestEvent[] =>
  items.flatMap((item) => (item.kind === "event" ? [item.event] : []));

interface Line {
  uuid?: string;
  parentUuid?: string | null;
  sessionId?: string;
  agentId?: string;
  isSidechain?: boolean;
  timestamp?: string;
}

/** Independent expectations for one sample file. */
function expected(sampleName: string) {
  const raw = readFileSync(join(SAMPLES, "transcripts", sampleName), "utf8");
  const lines = raw
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as Line);
  const stem = basename(sampleName.split("__").at(-1)!, ".jsonl");
  const subagent = /^agent-(.+)$/.exec(stem);
  const sessions = new Set<string>();
  if (subagent) {
    const parent = sampleName.split("__").at(-3)!;
    sessions.add(`${lines.find((l) => l.sessionId)?.sessionId ?? parent}:agent:${subagent[1]}`);
  } else {
    for (const line of lines) if (line.isSidechain !== true) sessions.add(line.sessionId ?? stem);
    // every sidechain chain starts at a sidechain line whose parent is not a sidechain line
    const sidechainUuids = new Set(lines.filter((l) => l.isSidechain === true).map((l) => l.uuid));
    const roots = lines.filter(
      (l) => l.isSidechain === true && (l.parentUuid == null || !sidechainUuids.has(l.parentUuid)),
    );
    for (const root of roots) sessions.add(`child-of-${root.uuid}`);
  }
  return { lines, sessions: sessions.size, subagent: subagent?.[1] };
}

let dir: string;
let copies: Map<string, string>;
beforeAll(() => {
  dir = tempDir("transcripts");
  copies = materializeTranscripts(dir);
});

describe.each(transcriptSampleFiles())("planImport(%s)", (sample) => {
  it("one event per line, ids from the lines' uuids, sessions and times as the independent count says", async () => {
    const items = await plan(copies.get(sample)!);
    const want = expected(sample);
    expect(items.filter((item) => item.kind === "error")).toEqual([]);
    const planned = events(items);
    expect(planned).toHaveLength(want.lines.length);
    expect(new Set(planned.map((e) => e.id)).size).toBe(want.lines.length);
    expect(new Set(planned.map((e) => e.externalSessionId)).size).toBe(want.sessions);
    planned.forEach((event, index) => {
      const line = want.lines[index]!;
      if (line.uuid) expect(event.id).toBe(line.uuid);
      if (line.timestamp) expect(event.occurredAt).toBe(new Date(line.timestamp).toISOString());
      expect(event.payload).toEqual(line);
      expect(event.source).toBe("transcript");
      if (want.subagent !== undefined || line.isSidechain === true) {
        expect(event.parentExternalSessionId).toBe(line.sessionId);
        expect(event.externalSessionId?.startsWith(`${line.sessionId}:agent:`)).toBe(true);
      } else {
        expect(event.parentExternalSessionId).toBeUndefined();
      }
    });
    if (want.subagent !== undefined) {
      expect(planned[0]!.externalSessionId).toBe(contractsSubagentExternalId(want.lines[0]!.sessionId!, want.subagent));
    }
  });

  it("every planned event is accepted by the contracts' ingestEvent schema", async () => {
    for (const event of events(await plan(copies.get(sample)!))) {
      const parsed = ingestEvent.safeParse(event);
      expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
    }
  });

  it("is deterministic: a second plan gives the same ids, sessions and times", async () => {
    const key = (e: IngestEvent) => `${e.id} ${e.externalSessionId} ${e.occurredAt} ${e.parentExternalSessionId}`;
    const first = events(await plan(copies.get(sample)!)).map(key);
    const second = events(await plan(copies.get(sample)!)).map(key);
    expect(second).toEqual(first);
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
    // sessionId missing: the file's session
    expect(planned[0]!.externalSessionId).toBe("22222222-2222-4333-8444-555555555555");
    expect(events(await plan(path)).map((e) => e.id)).toEqual(planned.map((e) => e.id));
  });

  it("a file without any timestamp gets the epoch, the same every time", async () => {
    const path = write("33333333-2222-4333-8444-555555555555.jsonl", [
      JSON.stringify({ type: "summary", summary: "only" }),
    ]);
    expect(events(await plan(path))[0]!.occurredAt).toBe("1970-01-01T00:00:00.000Z");
  });
});

describe("findTranscriptFiles", () => {
  it("finds every .jsonl below a folder, each session's file before its subagents' files", async () => {
    const files = await findTranscriptFiles([dir]);
    expect(files).toHaveLength(transcriptSampleFiles().length);
    const firstSubagent = files.findIndex((file) => file.includes("/subagents/"));
    expect(files.slice(firstSubagent).every((file) => file.includes("/subagents/"))).toBe(true);
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
    expect(JSON.parse(r.stdout)).toEqual({ files: 1, sessions: 1, events: 2, accepted: 2, duplicates: 0, errors: 1 });
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
