import { ingestEventsInput } from "@logbook/contracts";
import { createTestDatabase } from "@logbook/db/testing";
import { expect } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { SessionService } from "../sessions/session-service.js";
import { EventService } from "./event-service.js";

/**
 * Checks over one transcript's lines, run on our fixtures (event-service.test.ts) and on the
 * external real corpus (event-service.corpus.test.ts). Each gets a database of its own.
 */

type Line = Record<string, unknown>;

/**
 * Imports the lines as transcript events twice: messages are derived, each API response's
 * usage counts once (equal to an independent count by `message.id`), the re-import is all
 * duplicates and changes no total.
 */
export async function checkTranscriptTokens(lines: Line[], expectedStatus: string): Promise<void> {
  const db = await createTestDatabase();
  try {
    const events = new EventService({ knex: db.knex });
    const sessions = new SessionService({ knex: db.knex });
    const count = async (table: string, where: Record<string, unknown> = {}) =>
      Number(((await db.knex(table).where(where).count({ n: "*" })) as [{ n: string }])[0].n);

    const sessionId = expectDefined(lines.find((l) => typeof l.sessionId === "string")).sessionId as string;
    const toEvents = () => {
      let lastTime = "2026-01-01T00:00:00Z";
      return lines.map((line, i) => {
        if (typeof line.timestamp === "string") lastTime = line.timestamp;
        return {
          id: typeof line.uuid === "string" ? line.uuid : `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
          externalSessionId: sessionId,
          eventType: line.type as string,
          source: "transcript" as const,
          occurredAt: lastTime,
          payload: line,
        };
      });
    };
    // Independent count: distinct assistant message ids and their usage, counted once each.
    const usageById = new Map<string, { input_tokens: number; output_tokens: number }>();
    for (const line of lines) {
      const message = line.message as
        { id?: string; usage?: { input_tokens: number; output_tokens: number } } | undefined;
      if (line.type === "assistant" && message?.id && message.usage && !usageById.has(message.id))
        usageById.set(message.id, message.usage);
    }
    const expectedInput = [...usageById.values()].reduce((sum, u) => sum + u.input_tokens, 0);
    const expectedOutput = [...usageById.values()].reduce((sum, u) => sum + u.output_tokens, 0);
    // A split response (several lines, one message.id) is what makes counting once matter.
    const assistantLines = lines.filter((l) => l.type === "assistant").length;
    expect(assistantLines).toBeGreaterThan(usageById.size);

    const first = await events.ingest(ingestEventsInput.parse({ events: toEvents() }));
    expect(first.accepted).toBe(lines.length);
    const session = await sessions.get({ externalId: sessionId });
    expect(session.tokens.inputTokens).toBe(expectedInput);
    expect(session.tokens.outputTokens).toBe(expectedOutput);
    expect(session.status).toBe(expectedStatus);
    expect(await count("session_messages", { session_id: session.id, role: "assistant" })).toBe(usageById.size);
    expect(await count("session_messages", { session_id: session.id, role: "user" })).toBeGreaterThan(0);

    const again = await events.ingest(ingestEventsInput.parse({ events: toEvents() }));
    expect(again).toMatchObject({ accepted: 0, duplicates: lines.length });
    const after = await sessions.get({ externalId: sessionId });
    expect(after.tokens).toEqual(session.tokens);
  } finally {
    await db.destroy();
  }
}
