import { type AppendMessageInput, type ListMessagesInput, type SessionMessage } from "@logbook/contracts";
import { SessionMessageModel, type Knex } from "@logbook/db";
import { v7 as uuidv7 } from "uuid";

import type { CoreDeps } from "../deps.js";
import { AppError, notFound } from "../errors.js";
import { listSessionRecords } from "./session-records.js";
import { rowsOf, violated } from "../sql.js";
import { MESSAGE_COLUMNS, toMessageDto } from "./record-dto.js";
import { returnedRow } from "../invariants.js";
import { redactFields, redactorOf, writeRedacted } from "../redaction/redact-record.js";

const RETURNING = MESSAGE_COLUMNS.join(", ");

/**
 * A session's conversation (seed 001's session_messages): appended one at a time,
 * read back in conversation order (created_at, then id; ids are UUIDv7, so messages
 * given the same timestamp keep the order they were appended in).
 */
export class MessageService {
  constructor(private readonly deps: CoreDeps) {}

  async append(given: AppendMessageInput): Promise<SessionMessage> {
    const { input, count } = redactFields(redactorOf(this.deps), given, ["text"]);
    try {
      return await writeRedacted(
        this.deps.knex,
        count,
        (db) => this.insert(db, input),
        (m) => m.sessionId,
      );
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

  private async insert(db: Knex, input: AppendMessageInput): Promise<SessionMessage> {
    const rows = rowsOf(
      await db.raw(
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
    return toMessageDto(SessionMessageModel.fromDatabaseJson(returnedRow(rows[0], "INSERT INTO session_messages")));
  }

  /** Oldest first; `role` keeps only that speaker's messages. */
  async list(input: ListMessagesInput): Promise<{ items: SessionMessage[]; nextCursor: string | null }> {
    const { role } = input;
    return listSessionRecords(this.deps.knex, {
      table: "session_messages",
      columns: MESSAGE_COLUMNS,
      sessionId: input.sessionId,
      limit: input.limit,
      cursor: input.cursor,
      ...(role ? { filter: (query) => void query.where("role", role) } : {}),
      toItem: (row) => toMessageDto(SessionMessageModel.fromDatabaseJson(row)),
    });
  }
}
