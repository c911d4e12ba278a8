import { resolve as resolvePath } from "node:path";

import { isLogbookError, type LogbookClient } from "@logbook/sdk";

import type { Project, Session } from "./types.js";

import { CliError, EXIT } from "./exit-codes.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function notFound(error: unknown): boolean {
  return isLogbookError(error) && error.code === "NOT_FOUND";
}

/**
 * The session a person named: by Logbook id or by the agent's own id (Claude Code's
 * `session_id`). Claude Code's ids are UUIDs too, so a UUID is looked up both ways at once
 * (one batched request); Logbook's own id wins if both match.
 */
export async function resolveSession(client: LogbookClient, reference: string): Promise<Session> {
  const trimmed = reference.trim();
  if (trimmed === "") throw new CliError("a session id must not be empty", EXIT.usage);
  const byExternal = client.sessions.get.query({ externalId: trimmed });
  const byId = UUID.test(trimmed) ? client.sessions.get.query({ id: trimmed.toLowerCase() }) : null;
  const [external, own] = await Promise.allSettled([byExternal, byId ?? Promise.resolve(null)]);
  if (own.status === "fulfilled" && own.value) return own.value;
  if (external.status === "fulfilled") return external.value;
  for (const result of [own, external]) {
    if (result.status === "rejected" && !notFound(result.reason)) throw result.reason;
  }
  throw new CliError(`no session ${trimmed} (neither a Logbook id nor an agent's session id)`, EXIT.notFound);
}

/** A project by id or by path (relative paths from the current directory, so `--project .` works). */
export async function resolveProject(client: LogbookClient, reference: string): Promise<Project> {
  const trimmed = reference.trim();
  try {
    return UUID.test(trimmed)
      ? await client.projects.get.query({ id: trimmed.toLowerCase() })
      : await client.projects.get.query({ path: resolvePath(trimmed) });
  } catch (error) {
    if (notFound(error)) throw new CliError(`no project ${trimmed} (give its id or its path)`, EXIT.notFound);
    throw error;
  }
}

/**
 * The projects of these sessions by id, asked for at once (the client batches the calls). One
 * the server does not find is left out, and its sessions show none.
 */
export async function projectsOf(
  client: LogbookClient,
  sessions: ReadonlyArray<Pick<Session, "projectId">>,
): Promise<Map<string, Project>> {
  const ids = [...new Set(sessions.flatMap((s) => (s.projectId === null ? [] : [s.projectId])))];
  const found = await Promise.all(
    ids.map(async (id) => {
      try {
        return await client.projects.get.query({ id });
      } catch (error) {
        if (notFound(error)) return null;
        throw error;
      }
    }),
  );
  return new Map(found.flatMap((project) => (project === null ? [] : [[project.id, project] as const])));
}
