import { ingestEventsInput } from "@logbook/contracts";
import { SessionModel } from "@logbook/db";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { EventService } from "../events/event-service.js";
import { SessionService } from "./session-service.js";
import { SESSION_COLUMNS, sessionFieldsOf, toSessionDto } from "./session-dto.js";

describe("sessionFieldsOf", () => {
  let db: TestDatabase;
  let sessions: SessionService;
  beforeAll(async () => {
    db = await createTestDatabase();
    sessions = new SessionService({ knex: db.knex });
  });
  afterAll(async () => db.destroy());

  it("gives a plain row the DTO objection's model gives, every column set", async () => {
    const session = await sessions.create({
      externalId: "dto-row",
      projectPath: "/srv/dto/",
      title: "a title",
      label: "a label",
      initialQuery: "why",
      config: { model: "opus", nested: { a: [1, 2] } },
      metadata: { team: "core" },
    });
    await new EventService({ knex: db.knex }).ingest(
      ingestEventsInput.parse({ events: [{ sessionId: session.id, eventType: "SessionStart", payload: { x: 1 } }] }),
    );
    await sessions.update({ id: session.id, pinned: true, result: { ok: true } });

    const model = await SessionModel.query(db.knex).select(SESSION_COLUMNS).findById(session.id);
    const row = (await db.knex("sessions").select(SESSION_COLUMNS).where({ id: session.id }).first()) as Record<
      string,
      unknown
    >;
    expect(model).toBeDefined();
    if (!model) return;
    const fromRow = toSessionDto(sessionFieldsOf(row));
    expect(fromRow).toEqual(toSessionDto(model));
    expect(fromRow).toMatchObject({ pinned: true, result: { ok: true }, label: "a label", externalId: "dto-row" });
    // What the list answers is the same DTO.
    const listed = await sessions.list({ limit: 10, sort: "lastActivity", label: "a label" });
    expect(listed.items).toEqual([fromRow]);
  });
});
