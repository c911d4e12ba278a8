import { subagentExternalId } from "@logbook/contracts";
import { createTestDatabase } from "@logbook/db/testing";
import { v7 as uuidv7 } from "uuid";
import { expect } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { SessionService } from "../sessions/session-service.js";
import { HookService } from "./hook-service.js";

/**
 * Checks over a whole set of hook payloads, run on our fixtures (hook-service.test.ts) and
 * on the external real corpus (hook-service.corpus.test.ts). Each gets a database of its own.
 */

type Payload = Record<string, unknown>;

const childAgentOf = (p: Payload) => (typeof p.agent_id === "string" && p.agent_id !== "" ? p.agent_id : undefined);

/** Every payload stored whole, in its session; subagent payloads in child sessions of it. */
export async function checkStoresEveryPayload(payloads: Payload[]): Promise<void> {
  const db = await createTestDatabase();
  try {
    const hooks = new HookService({ knex: db.knex });
    const sessions = new SessionService({ knex: db.knex });
    const count = async (table: string, where: Record<string, unknown> = {}) =>
      Number(((await db.knex(table).where(where).count({ n: "*" })) as [{ n: string }])[0].n);

    let accepted = 0;
    for (let i = 0; i < payloads.length; i += 500) {
      const batch = payloads.slice(i, i + 500).map((payload) => ({ id: uuidv7(), payload }));
      accepted += (await hooks.ingest({ events: batch })).accepted;
    }
    expect(accepted).toBe(payloads.length);
    expect(await count("events", { source: "hook" })).toBe(payloads.length);

    const mainIds = new Set(payloads.map((p) => p.session_id as string));
    const childIds = new Set(
      payloads.flatMap((p) => {
        const agent = childAgentOf(p);
        return agent === undefined ? [] : [subagentExternalId(p.session_id as string, agent)];
      }),
    );
    for (const externalId of mainIds) expect((await sessions.get({ externalId })).parentSessionId).toBeNull();
    for (const externalId of childIds) {
      const child = await sessions.get({ externalId });
      const parent = await sessions.get({ externalId: expectDefined(externalId.split(":agent:")[0]) });
      expect(child.parentSessionId).toBe(parent.id);
    }
    expect(await count("sessions")).toBe(mainIds.size + childIds.size);

    // The payload comes back exactly as sent, unknown fields (loggers' `logged_at`) included.
    const withExtra = expectDefined(payloads.find((p) => "logged_at" in p));
    expect(withExtra).toBeDefined();
    const row = (await db
      .knex("events")
      .whereRaw("payload @> ?::jsonb", [JSON.stringify({ logged_at: withExtra.logged_at })])
      .first()) as { payload: unknown };
    expect(row.payload).toEqual(withExtra);

    // UserPromptSubmit became user messages.
    const prompts = payloads.filter(
      (p) => p.hook_event_name === "UserPromptSubmit" && typeof p.prompt === "string" && p.prompt,
    );
    expect(await count("session_messages", { role: "user" })).toBe(prompts.length);
  } finally {
    await db.destroy();
  }
}

/** Every payload posted on its own, all at once (group commit): none lost, none refused. */
export async function checkConcurrentSinglePosts(payloads: Payload[]): Promise<void> {
  const db = await createTestDatabase();
  try {
    const service = new HookService({ knex: db.knex });
    const results = await Promise.allSettled(
      payloads.map((payload) => service.ingestPayload(payload, { id: uuidv7() })),
    );
    expect(results.filter((r) => r.status === "rejected").map((r) => String(r.reason))).toEqual([]);
    const [{ n }] = (await db.knex("events").count({ n: "*" })) as [{ n: string }];
    expect(Number(n)).toBe(payloads.length);
  } finally {
    await db.destroy();
  }
}
