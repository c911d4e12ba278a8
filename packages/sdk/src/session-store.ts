import { MAX_INGEST_BATCH, type LogbookClient } from "./client.js";

/**
 * The Claude Agent SDK's `SessionStore` (`@anthropic-ai/claude-agent-sdk`, `@alpha`), kept in
 * Logbook. The types below restate the SDK's structurally, so this package does not need the
 * Agent SDK installed; a `LogbookSessionStore` is accepted wherever the SDK takes a
 * `sessionStore`.
 *
 * @example
 * ```ts
 * import { query } from "@anthropic-ai/claude-agent-sdk";
 * import { createLogbookClient, LogbookSessionStore } from "@logbook/sdk";
 *
 * const sessionStore = new LogbookSessionStore(createLogbookClient({ url, apiKey }));
 * for await (const message of query({ prompt, options: { sessionStore } })) { … }
 * ```
 */

/** The SDK's key: `subpath` names a subagent's transcript, absent for the main one. */
export interface SessionKey {
  projectKey: string;
  sessionId: string;
  subpath?: string;
}

/** One transcript line, as the SDK passes it: a JSON object with a string `type`. */
export interface SessionStoreEntry {
  type: string;
  uuid?: string;
  timestamp?: string;
  [k: string]: unknown;
}

export class LogbookSessionStore {
  constructor(private readonly client: LogbookClient) {}

  /**
   * Mirrors a batch, in order (split into calls of at most `MAX_INGEST_BATCH` entries). An
   * entry's `uuid` is its id in Logbook, so a retried or replayed batch stores nothing twice;
   * entries without one are appended as they come.
   */
  async append(key: SessionKey, entries: SessionStoreEntry[]): Promise<void> {
    if (entries.length === 0) return;
    for (let i = 0; i < entries.length; i += MAX_INGEST_BATCH)
      await this.client.sessionStore.append.mutate({ ...keyOf(key), entries: entries.slice(i, i + MAX_INGEST_BATCH) });
  }

  /** The entries in append order; null for a key never written. */
  async load(key: SessionKey): Promise<SessionStoreEntry[] | null> {
    return (await this.client.sessionStore.load.query(keyOf(key))) as SessionStoreEntry[] | null;
  }

  /** A project's sessions (main transcripts) with their last write time, Unix ms. */
  listSessions(projectKey: string): Promise<Array<{ sessionId: string; mtime: number }>> {
    return this.client.sessionStore.list.query({ projectKey });
  }

  /** Deletes a key and the Logbook session holding it (the key needs the admin scope). */
  delete(key: SessionKey): Promise<void> {
    return this.client.sessionStore.delete.mutate(keyOf(key));
  }

  /** A session's subagent transcripts, as subpaths. */
  listSubkeys(key: { projectKey: string; sessionId: string }): Promise<string[]> {
    return this.client.sessionStore.listSubkeys.query({ projectKey: key.projectKey, sessionId: key.sessionId });
  }
}

/**
 * The key's own fields, nothing else: the Agent SDK hands us its key objects, and the API
 * refuses a field it does not know, so one it adds in a release must not reach the call.
 */
function keyOf(key: SessionKey): SessionKey {
  return {
    projectKey: key.projectKey,
    sessionId: key.sessionId,
    ...(key.subpath === undefined ? {} : { subpath: key.subpath }),
  };
}
