import { join } from "node:path";

import { ingestEvent, subagentExternalId as contractsSubagentExternalId, type IngestEvent } from "@logbook/contracts";
import type { TranscriptSet } from "@logbook/fixtures";
import { describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { findTranscriptFiles } from "../src/importer.js";
import { planImport, type PlanItem } from "../src/transcript.js";
import { expectationOf } from "./transcript-expectations.js";

/**
 * What the importer would send for every file of a transcript set, checked against the
 * independent expectations: run on our fixtures (src/transcript.test.ts) and on the real
 * corpus (src/transcript.corpus.test.ts).
 */

export async function plan(path: string): Promise<PlanItem[]> {
  const items: PlanItem[] = [];
  for await (const item of planImport(path)) items.push(item);
  return items;
}

export const events = (items: PlanItem[]): IngestEvent[] =>
  items.flatMap((item) => (item.kind === "event" ? [item.event] : []));

export function describePlanImport(set: TranscriptSet): void {
  describe.each(set.files)("planImport(%s)", (file) => {
    const path = join(set.root, file);

    it("one event per line, ids from the lines' uuids, sessions and times as the independent count says", async () => {
      const items = await plan(path);
      const want = expectationOf(set, file);
      expect(items.filter((item) => item.kind === "error")).toEqual([]);
      const planned = events(items);
      expect(planned).toHaveLength(want.lines.length);
      expect(new Set(planned.map((e) => e.id)).size).toBe(want.lines.length);
      expect(new Set(planned.map((e) => e.externalSessionId)).size).toBe(want.sessions.size);
      planned.forEach((event, index) => {
        const line = expectDefined(want.lines[index]);
        // Its own id, RFC 9562 or not (issue 18: foreign ids were replaced, breaking parentUuid links).
        if (line.uuid) expect(event.id).toBe(line.uuid.toLowerCase());
        if (line.timestamp) expect(event.occurredAt).toBe(new Date(line.timestamp).toISOString());
        expect(event.payload).toEqual(line);
        expect(event.source).toBe("transcript");
        if (want.subagent !== undefined || line.isSidechain === true) {
          expect(event.parentExternalSessionId).toBe(line.sessionId);
          expect(event.externalSessionId?.startsWith(`${line.sessionId}:agent:`)).toBe(true);
        } else {
          expect(event.parentExternalSessionId).toBeUndefined();
          // A line without a sessionId goes to a session the file's lines name, not one named
          // after the file (issue 18: phantom sessions).
          expect(want.mainSessions.has(expectDefined(event.externalSessionId))).toBe(true);
        }
      });
      if (want.subagent !== undefined) {
        expect(expectDefined(planned[0]).externalSessionId).toBe(
          contractsSubagentExternalId(expectDefined(expectDefined(want.lines[0]).sessionId), want.subagent),
        );
      }
    });

    it("every planned event is accepted by the contracts' ingestEvent schema", async () => {
      for (const event of events(await plan(path))) {
        const parsed = ingestEvent.safeParse(event);
        expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
      }
    });

    it("is deterministic: a second plan gives the same ids, sessions and times", async () => {
      const key = (e: IngestEvent) => `${e.id} ${e.externalSessionId} ${e.occurredAt} ${e.parentExternalSessionId}`;
      const first = events(await plan(path)).map(key);
      const second = events(await plan(path)).map(key);
      expect(second).toEqual(first);
    });
  });

  describe("findTranscriptFiles", () => {
    it("finds every .jsonl below a folder, each session's file before its subagents' files", async () => {
      const files = await findTranscriptFiles([set.root]);
      expect(files.map((f) => f.slice(set.root.length + 1)).sort()).toEqual(set.files);
      const firstSubagent = files.findIndex((f) => f.includes("/subagents/"));
      expect(firstSubagent).toBeGreaterThan(0);
      expect(files.slice(firstSubagent).every((f) => f.includes("/subagents/"))).toBe(true);
    });
  });
}
