import type { Knex } from "@logbook/db";

import { notFound } from "../errors.js";

/**
 * NOT_FOUND unless the session exists. Writes rely on the foreign key instead (race-free);
 * lists call this only when a page comes back empty, to tell "no rows" from "no session".
 */
export async function assertSessionExists(knex: Knex, sessionId: string): Promise<void> {
  const row: unknown = await knex("sessions").where({ id: sessionId }).first("id");
  if (!row) throw notFound("session", sessionId);
}
