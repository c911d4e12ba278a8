import {
  ingestEvent,
  subagentExternalId,
  summarizeIssues,
  toInputIssues,
  type ParsedIngestEvent,
  type SessionStoreAppendInput,
  type SessionStoreAppendOutput,
  type SessionStoreKeyInput,
} from "@logbook/contracts";
import type { Knex } from "@logbook/db";
import { v5 as uuidv5, v7 as uuidv7 } from "uuid";

import type { CoreDeps } from "../deps.js";
import { invalidInput } from "../errors.js";
import { EventService } from "../events/event-service.js";
import { SessionService } from "../sessions/session-service.js";

/** Namespace of the ids given to entries whose `uuid` is not 8-4-4-4-12 hex (ours alone). */
const ENTRY_NAMESPACE = "0d6b2c4e-8f1a-4b3c-9e5d-7a2f4c6e8b10";
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TYPE_NAME = /^[A-Za-z][A-Za-z0-9_.:-]{0,99}$/;
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$/i;
/** The time given to a uuid'd entry without one: fixed, so a retry is the same event (see `isUnknownTime`). */
const UNKNOWN_TIME = "1970-01-01T00:00:00.000Z";
/** `subagents/agent-<id>`, as the SDK names a subagent's transcript after its file. */
const SUBAGENT = /(?:^|\/)agent-([^/]+?)(?:\.jsonl)?$/;

interface Target {
  externalId: string;
  parentExternalId?: string;
  agentId?: string;
}

/**
 * The Claude Agent SDK's `SessionStore`, kept in Logbook: each entry (one transcript line)
 * is a transcript event of the session the key names (the SDK's `sessionId` is Claude Code's
 * session id, so hooks, OTel and imports of the same session meet it there); a subagent's
 * transcript (`subpath`) is its child session, as the importer makes it. Entries keep their
 * `uuid` as event id, so a retried or replayed append stores nothing twice; entries without
 * one are always appended. `agent_sdk_sessions` remembers the keys and their write time.
 */
export class SessionStoreService {
  private readonly knex: Knex;
  private readonly events: EventService;
  private readonly sessions: SessionService;

  constructor(deps: CoreDeps, events?: EventService) {
    this.knex = deps.knex;
    this.events = events ?? new EventService(deps);
    this.sessions = new SessionService(deps);
  }

  private target(key: SessionStoreKeyInput): Target {
    if (key.subpath === undefined) return { externalId: key.sessionId };
    const agentId = SUBAGENT.exec(key.subpath)?.[1] ?? key.subpath;
    const externalId = subagentExternalId(key.sessionId, agentId);
    if (externalId.length > 255) throw invalidInput("subpath: too long for a session id (at most ~200 characters)");
    return { externalId, parentExternalId: key.sessionId, agentId };
  }

  async append(input: SessionStoreAppendInput): Promise<SessionStoreAppendOutput> {
    const target = this.target(input);
    const events = input.entries.map((entry, index): ParsedIngestEvent => {
      const uuid = typeof entry.uuid === "string" && entry.uuid !== "" ? entry.uuid : undefined;
      const timestamp =
        typeof entry.timestamp === "string" && ISO_WITH_ZONE.test(entry.timestamp) ? entry.timestamp : undefined;
      const type = entry.type as string;
      const parsed = ingestEvent.safeParse({
        id:
          uuid === undefined
            ? uuidv7()
            : GUID.test(uuid)
              ? uuid
              : uuidv5(`${target.externalId}\n${uuid}`, ENTRY_NAMESPACE),
        externalSessionId: target.externalId,
        ...(target.parentExternalId ? { parentExternalSessionId: target.parentExternalId } : {}),
        ...(target.agentId ? { agentId: target.agentId.slice(0, 255) } : {}),
        eventType: TYPE_NAME.test(type) ? type : "unknown",
        source: "transcript",
        ...(timestamp ? { occurredAt: timestamp } : uuid ? { occurredAt: UNKNOWN_TIME } : {}),
        ...(typeof entry.parentUuid === "string" ? { parentUuid: entry.parentUuid.slice(0, 255) } : {}),
        ...(typeof entry.isSidechain === "boolean" ? { isSidechain: entry.isSidechain } : {}),
        ...(typeof entry.cwd === "string" ? { cwd: entry.cwd } : {}),
        payload: entry,
      });
      if (!parsed.success)
        throw invalidInput(`entries[${index}]: ${summarizeIssues(toInputIssues(parsed.error))}`, { index });
      return parsed.data;
    });
    // The events' fields are copies of entry values: only the entries are counted.
    const result =
      events.length > 0
        ? await this.events.ingest({ events }, { fieldsFromPayload: true })
        : { accepted: 0, duplicates: 0, replacedCharacters: 0 };
    await this.knex.raw(
      `INSERT INTO agent_sdk_sessions (project_key, session_id, subpath, external_id) VALUES (?, ?, ?, ?)
       ON CONFLICT (project_key, session_id, subpath) DO UPDATE SET updated_at = now(), external_id = EXCLUDED.external_id`,
      [input.projectKey, input.sessionId, input.subpath ?? "", target.externalId],
    );
    return { accepted: result.accepted, duplicates: result.duplicates, replacedCharacters: result.replacedCharacters };
  }

  /** The entries in append order (the session's event order), or null for a key never written. */
  async load(key: SessionStoreKeyInput): Promise<Array<Record<string, unknown>> | null> {
    const found = await this.knex.raw<{ rows: Array<{ external_id: string }> }>(
      `SELECT external_id FROM agent_sdk_sessions WHERE project_key = ? AND session_id = ? AND subpath = ?`,
      [key.projectKey, key.sessionId, key.subpath ?? ""],
    );
    const row = found.rows[0];
    if (!row) return null;
    const result = await this.knex.raw<{ rows: Array<{ payload: Record<string, unknown> }> }>(
      `SELECT e.payload FROM events e JOIN sessions s ON s.id = e.session_id
       WHERE s.external_id = ? AND e.source = 'transcript' ORDER BY e.seq`,
      [row.external_id],
    );
    return result.rows.map((r) => r.payload);
  }

  /** Main transcripts of a project, with their last write time (Unix ms). */
  async list(projectKey: string): Promise<Array<{ sessionId: string; mtime: number }>> {
    const result = await this.knex.raw<{ rows: Array<{ session_id: string; updated_at: Date }> }>(
      `SELECT session_id, updated_at FROM agent_sdk_sessions WHERE project_key = ? AND subpath = ''`,
      [projectKey],
    );
    return result.rows.map((r) => ({ sessionId: r.session_id, mtime: Math.floor(r.updated_at.getTime()) }));
  }

  async listSubkeys(key: { projectKey: string; sessionId: string }): Promise<string[]> {
    const result = await this.knex.raw<{ rows: Array<{ subpath: string }> }>(
      `SELECT subpath FROM agent_sdk_sessions WHERE project_key = ? AND session_id = ? AND subpath <> ''
       ORDER BY subpath`,
      [key.projectKey, key.sessionId],
    );
    return result.rows.map((r) => r.subpath);
  }

  /**
   * Deletes a key: the Logbook session holding it and its events (the main transcript's
   * session takes its subagents' with it, as `sessions.delete` does), and the key itself.
   * Without `subpath`, the session's subagent keys go too.
   */
  async delete(key: SessionStoreKeyInput): Promise<void> {
    const where = `project_key = ? AND session_id = ?${key.subpath === undefined ? "" : " AND subpath = ?"}`;
    const bindings = [key.projectKey, key.sessionId, ...(key.subpath === undefined ? [] : [key.subpath])];
    const found = await this.knex.raw<{ rows: Array<{ id: string }> }>(
      `SELECT s.id FROM agent_sdk_sessions a JOIN sessions s ON s.external_id = a.external_id WHERE ${where.replace(/(\w+) =/g, "a.$1 =")}`,
      bindings,
    );
    for (const { id } of found.rows) {
      // A subagent's session may already be gone with its parent's.
      const still = await this.knex.raw<{ rows: unknown[] }>(`SELECT 1 FROM sessions WHERE id = ?`, [id]);
      if (still.rows.length > 0) await this.sessions.delete({ id });
    }
    await this.knex.raw(`DELETE FROM agent_sdk_sessions WHERE ${where}`, bindings);
  }
}
