import { randomUUID } from "node:crypto";

import { expect } from "vitest";

import type { Harness } from "./harness.js";

/**
 * Posts every payload to `POST /hooks/claude-code` a few at a time, as several agents on one
 * machine would, and checks each is answered 200 `{}` and stored in its session. Run on our
 * fixtures (http.test.ts) and on the external real corpus (http.corpus.test.ts).
 */
export async function checkEveryHookPayloadStored(
  h: Harness,
  payloads: Array<Record<string, unknown>>,
  machineId: string,
): Promise<void> {
  const countEvents = async (where: Record<string, unknown>) =>
    Number(((await h.db.knex("events").where(where).count({ n: "*" }).first()) as { n: number | string }).n);
  const before = await countEvents({ source: "hook" });

  const failures: string[] = [];
  for (let i = 0; i < payloads.length; i += 8) {
    await Promise.all(
      payloads.slice(i, i + 8).map(async (payload, j) => {
        const response = await fetch(`${h.server.url}/hooks/claude-code`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            authorization: `Bearer ${h.server.apiKey}`,
            "x-logbook-event-id": randomUUID(),
            "x-logbook-machine-id": machineId,
          },
          body: JSON.stringify(payload),
        });
        const text = await response.text();
        if (response.status !== 200 || text !== "{}")
          failures.push(`#${i + j} ${String(payload.hook_event_name)}: ${response.status} ${text}`);
      }),
    );
  }
  expect(failures).toEqual([]);
  expect(await countEvents({ source: "hook" })).toBe(before + payloads.length);

  const mainSessions = new Set(payloads.map((p) => p.session_id as string));
  const stored = await h.db
    .knex("sessions")
    .whereIn("external_id", [...mainSessions])
    .count({ n: "*" })
    .first();
  expect(Number((stored as { n: string }).n)).toBe(mainSessions.size);
  expect(await countEvents({ source: "hook", machine_id: machineId })).toBe(payloads.length);
}
