import { type AppendMessageInput, type ListMessagesInput, type SessionMessage } from "@logbook/contracts";
import { SessionMessageModel } from "@logbook/db";
import { v7 as uuidv7 } from "uuid";

import type { CoreDeps } from "../deps.js";
import { AppError, notFound } from "../errors.js";
import { decodeCursor, toPage } from "../pagination.js";
import { assertCursorValues, timestampKey } from "../pagination.js";
import { assertSessionExists } from "./session-records.js";
import { rowsOf, violated } from "../sql.js";
import { MESSAGE_COLUMNS, toMessageDto } from "./record-dto.js";

const RETURNING = MESSAGE_COLUMNS.join(", ");

/**
 * A session's conversation (seed 001's session_messages): appended one at a time,
 * read back in conversation order (created_at, then id; ids are UUIDv7, so messages
 * given the same timestamp keep the order they were appended in).
 */
export class MessageService {
  constructor(private readonly deps: CoreDeps) {}

  async append(input: AppendMessageInput): Promise<SessionMessage> {
    try {
      const rows = rowsOf(
        await this.deps.knex.raw(
          `INSERT INTO session_messages
             (id, session_id, role, text, model, external_message_id, claude_session_id, input_tokens, output_tokens, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, COALESCE(?::timestamptz, now()))
           RETURNING ${RETURNING}`,
          [
            uuidv7(),
            input.sessionId,
            input.role,
            input.text,
            input.model ?? null,
            input.externalMessageId ?? null,
            input.claudeSessionId ?? null,
            input.inputTokens ?? 0,
            input.outputTokens ?? 0,
            input.createdAt ?? null,
          ],
        ),
      );
      return toMessageDto(SessionMessageModel.fromDatabaseJson(rows[0]!));
    } catch (error) {
      if (violated(error, "23503") !== null) throw notFound("session", input.sessionId);
      if (violated(error, "23505")?.includes("external")) {
        throw new AppError(
          "CONFLICT",
          `session ${input.sessionId} already has a message with external id ${input.externalMessageId}`,
          { details: { sessionId: input.sessionId, externalMessageId: input.externalMessageId } },
        );
      }
      throw error;
    }
  }

  /** Oldest first; `role` keeps only that speaker's messages. */
  async list(input: ListMessagesInput): Promise<{ items: SessionMessage[]; nextCursor: string | null }> {
    const knex = this.deps.knex;
    const query = knex("session_messages")
      .select([...MESSAGE_COLUMNS, knex.raw(`${timestampKey("created_at")} AS cursor_key`)])
      .where("session_id", input.sessionId)
      .orderBy([
        { column: "created_at", order: "asc" },
        { column: "id", order: "asc" },
      ])
      .limit(input.limit + 1);
    if (input.role) query.where("role", input.role);
    if (input.cursor !== undefined) {
      const values = decodeCursor(input.cursor, ["string", "string"]);
      assertCursorValues(values, ["timestamp", "uuid"]);
      query.whereRaw("(created_at, id) > (?::timestamptz, ?::uuid)", values);
    }
    const rows = (await query) as Array<Record<string, unknown>>;
    if (rows.length === 0 && input.cursor === undefined) await assertSessionExists(knex, input.sessionId);
    return toPage(
      rows,
      input.limit,
      ({ cursor_key: _key, ...row }) => toMessageDto(SessionMessageModel.fromDatabaseJson(row)),
      (row) => [String(row.cursor_key), String(row.id)],
    );
  }
}
