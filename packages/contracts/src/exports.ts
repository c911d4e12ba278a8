import { z } from "zod";

import { uuid, inputObject } from "./common.js";

/**
 * What a session can be exported as: `md` (a readable conversation: prompts, replies,
 * tool calls and results, subagents), `json` (the session tree and every event, payloads
 * whole), `jsonl` (the transcript lines as Claude Code wrote them, subagents' after the
 * session's own: `logbook-hook import` reads the file back into the same events).
 */
export const EXPORT_FORMATS = ["md", "json", "jsonl"] as const;
export const exportFormat = z.enum(EXPORT_FORMATS, { error: `must be one of ${EXPORT_FORMATS.join(", ")}` });
export type ExportFormat = z.infer<typeof exportFormat>;

export const exportSessionInput = inputObject({
  id: uuid(),
  format: exportFormat,
});
export type ExportSessionInput = z.output<typeof exportSessionInput>;

export const sessionExport = z.object({
  /** A file name to save it under: `<external id or id>.<format>`, safe on every system. */
  fileName: z.string(),
  mediaType: z.string(),
  content: z.string(),
  /** The session and its subagents. */
  sessions: z.number().int(),
  /** Events read (for `jsonl`: the transcript lines written). */
  events: z.number().int(),
});
export type SessionExport = z.infer<typeof sessionExport>;
