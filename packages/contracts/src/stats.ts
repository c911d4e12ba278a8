import { z } from "zod";

import { isoDateTime, shortText, tokenUsage, uuid, storedDateTime, inputObject } from "./common.js";
import { session } from "./sessions.js";

export const activeSessionStats = z.object({
  session,
  eventCount: z.number().int(),
  /** Seconds from start (or creation) to the end or now. */
  durationSeconds: z.number(),
  childCount: z.number().int(),
});
export const activeSessionsInput = inputObject({
  limit: z.number().int().min(1).max(500).default(100),
  includeHidden: z.boolean().default(false),
});
export type ActiveSessionStats = z.infer<typeof activeSessionStats>;
export const activeSessionsOutput = z.array(activeSessionStats);
export type ActiveSessionsInput = z.output<typeof activeSessionsInput>;

export const timeRangeInput = inputObject({
  from: storedDateTime().optional(),
  to: storedDateTime().optional(),
  projectId: uuid().optional(),
  sessionId: uuid().optional(),
});
export type TimeRangeInput = z.output<typeof timeRangeInput>;

export const toolUsage = z.object({
  toolName: z.string(),
  count: z.number().int(),
  failures: z.number().int(),
});
export type ToolUsage = z.infer<typeof toolUsage>;
export const toolUsageOutput = z.array(toolUsage);

export const TOKEN_GROUPINGS = ["session", "project", "day"] as const;
export const tokenTotalsInput = timeRangeInput.extend({
  groupBy: z.enum(TOKEN_GROUPINGS),
  limit: z.number().int().min(1).max(1000).default(100),
});
export type TokenTotalsInput = z.output<typeof tokenTotalsInput>;
export const tokenTotalsRow = tokenUsage.extend({
  /** A session id, a project id (or `none`), or a day (YYYY-MM-DD, UTC). */
  key: z.string(),
  sessions: z.number().int(),
});
export type TokenTotalsRow = z.infer<typeof tokenTotalsRow>;
export const tokenTotalsOutput = z.array(tokenTotalsRow);

export const overviewOutput = z.object({
  sessionsByStatus: z.record(z.string(), z.number().int()),
  totalSessions: z.number().int(),
  totalEvents: z.number().int(),
  machines: z.array(z.object({ machineId: shortText(), sessions: z.number().int(), lastActivityAt: isoDateTime() })),
  tokens: tokenUsage,
});
export type Overview = z.infer<typeof overviewOutput>;
