import type { Knex } from "@logbook/db";

import { notFound } from "./errors.js";
import { assertSessionExists } from "./records/session-records.js";

/**
 * For a report narrowed to a session or a project that came back empty: NOT_FOUND when no
 * such session or project exists, so a mistyped id is not read as "no activity". Asked only
 * of an empty answer, and of the primary: a replica may not have a new session yet.
 */
export async function assertFilterTargetsExist(
  knex: Knex,
  filter: { sessionId?: string | undefined; projectId?: string | undefined },
): Promise<void> {
  if (filter.sessionId !== undefined) await assertSessionExists(knex, filter.sessionId);
  if (filter.projectId !== undefined) {
    const row: unknown = await knex("projects").where({ id: filter.projectId }).first("id");
    if (!row) throw notFound("project", filter.projectId);
  }
}
