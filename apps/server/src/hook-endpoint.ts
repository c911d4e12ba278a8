import type { IncomingMessage, ServerResponse } from "node:http";

import { accessError, createContextInner, type ApiDeps } from "@logbook/api";
import { hookEnvelope } from "@logbook/contracts";
import { AppError, invalidInputFrom } from "@logbook/core";

import { BodyTooLargeError, readBody } from "./body.js";
import { inexactNumberError } from "./exact-numbers.js";
import type { Logger } from "./logger.js";
import { sendError, sendJson } from "./respond.js";

/** Optional headers an emitter may send so a retried post is stored once and dated right. */
const META_HEADERS = {
  id: "x-logbook-event-id",
  occurredAt: "x-logbook-occurred-at",
  machineId: "x-logbook-machine-id",
} as const;

const metaSchema = hookEnvelope.pick({ id: true, occurredAt: true, machineId: true });

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

const ROUTE = "POST /hooks/claude-code";
const REPLACED_HEADER = "x-logbook-replaced-characters";

/**
 * `POST /hooks/claude-code`: the raw JSON Claude Code's `http` hook type posts. Needs a
 * key with the ingest scope. Answers `{}` (no decision, so the agent carries on exactly as
 * without the hook) once the event is stored; a retry with the same X-Logbook-Event-Id
 * is stored once.
 */
export async function handleClaudeCodeHook(
  req: IncomingMessage,
  res: ServerResponse,
  deps: ApiDeps & { bodyLimitBytes: number; logger: Logger },
): Promise<void> {
  try {
    const ctx = await createContextInner(deps, header(req, "authorization"), req.socket.remoteAddress);
    const refused = accessError(ctx, "ingest");
    if (refused) return sendError(res, refused, deps.logger, ROUTE);

    const body = await readBody(req, deps.bodyLimitBytes);
    const text = body.toString("utf8");
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (error) {
      const reason = error instanceof Error ? error.message : "unparseable";
      throw new AppError("INVALID_INPUT", `the body is not valid JSON: ${reason}`);
    }
    // After JSON.parse, so malformed JSON is reported as such; the scan names the field.
    const inexact = inexactNumberError(text);
    if (inexact) throw inexact;

    const meta = metaSchema.safeParse({
      id: header(req, META_HEADERS.id),
      occurredAt: header(req, META_HEADERS.occurredAt),
      machineId: header(req, META_HEADERS.machineId),
    });
    if (!meta.success) {
      throw invalidInputFrom(
        meta.error,
        "header",
        (field) => META_HEADERS[field as keyof typeof META_HEADERS] ?? field,
      );
    }

    const { replacedCharacters } = await deps.services.hooks.ingestPayload(raw, meta.data);
    // The body stays `{}` for Claude Code; a caller that looks is told of the one change
    // made on the way in (characters PostgreSQL cannot hold, stored as U+FFFD).
    if (replacedCharacters > 0) res.setHeader(REPLACED_HEADER, String(replacedCharacters));
    sendJson(res, 200, {});
  } catch (error) {
    if (error instanceof BodyTooLargeError) {
      // Not drained (a runaway body): the connection closes after this answer, so a
      // keep-alive client opens a new one for its next request instead of reusing a dead one.
      if (!error.drained) res.setHeader("connection", "close");
      return sendError(res, new AppError("PAYLOAD_TOO_LARGE", error.message), deps.logger, ROUTE);
    }
    sendError(res, error, deps.logger, ROUTE);
  }
}
