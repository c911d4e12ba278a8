import { z } from "zod";

/**
 * One line of a Claude Code transcript (`~/.claude/projects/<dir>/<session>.jsonl`).
 * Loose on purpose: new line types and fields appear with every release.
 */
export const transcriptLine = z.looseObject({
  type: z.string().min(1),
  uuid: z.string().optional(),
  parentUuid: z.string().nullable().optional(),
  sessionId: z.string().optional(),
  agentId: z.string().optional(),
  timestamp: z.string().optional(),
  cwd: z.string().optional(),
  version: z.string().optional(),
  gitBranch: z.string().optional(),
  isSidechain: z.boolean().optional(),
  userType: z.string().optional(),
  leafUuid: z.string().optional(),
  summary: z.string().optional(),
  message: z.unknown().optional(),
});
export type TranscriptLine = z.infer<typeof transcriptLine>;

export const transcriptUsage = z.looseObject({
  input_tokens: z.number().optional(),
  output_tokens: z.number().optional(),
  cache_creation_input_tokens: z.number().optional(),
  cache_read_input_tokens: z.number().optional(),
});

export const transcriptMessage = z.looseObject({
  id: z.string().optional(),
  role: z.string().optional(),
  model: z.string().optional(),
  content: z.union([z.string(), z.array(z.unknown())]).optional(),
  usage: transcriptUsage.optional(),
});
export type TranscriptMessage = z.infer<typeof transcriptMessage>;
