import { open } from "node:fs/promises";

import { Command } from "commander";

import type { ContextFactory } from "../context.js";
import { CliError, EXIT } from "../exit-codes.js";
import { resolveSession } from "../resolve.js";

const FORMATS = ["md", "json", "jsonl"] as const;
type Format = (typeof FORMATS)[number];

/**
 * Writes `content` to a new file readable by its owner only (0600): an export holds
 * prompts, code and tool output. An existing file is refused rather than replaced.
 */
async function writePrivateFile(path: string, content: string): Promise<void> {
  let file;
  try {
    file = await open(path, "wx", 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw new CliError(`${path} exists; give another file or remove it first`, EXIT.usage);
    throw new CliError(`cannot write ${path}: ${(error as Error).message}`, EXIT.error);
  }
  try {
    await file.writeFile(content, "utf8");
  } finally {
    await file.close();
  }
}

/**
 * `logbook export <session> --format md|json|jsonl [-o file]`: the session with its
 * subagents, through `sessions.export`. On stdout without `-o`.
 */
export function exportCommand(contexts: ContextFactory): Command {
  return new Command("export")
    .description("a session with its subagents as Markdown, JSON, or its original JSONL transcript lines")
    .argument("<session>", "Logbook's session id or the agent's own session id")
    .requiredOption("-f, --format <format>", `one of ${FORMATS.join(", ")}`)
    .option("-o, --output <file>", "write to this new file (0600) instead of stdout")
    .action(async (reference: string, options: { format: string; output?: string }, command: Command) => {
      if (!(FORMATS as readonly string[]).includes(options.format)) {
        throw new CliError(`--format ${options.format}: give one of ${FORMATS.join(", ")}`, EXIT.usage);
      }
      const context = contexts.create(command);
      const client = context.client();
      const exported = await context.out.spin(`exporting ${reference}`, async () => {
        const session = await resolveSession(client, reference);
        return client.sessions.export.query({ id: session.id, format: options.format as Format });
      });
      if (options.output === undefined) {
        process.stdout.write(exported.content);
        return;
      }
      await writePrivateFile(options.output, exported.content);
      const summary = {
        file: options.output,
        format: options.format,
        sessions: exported.sessions,
        events: exported.events,
      };
      if (context.out.json) context.out.jsonResult(summary);
      else
        context.out.notice(
          `wrote ${options.output}: ${exported.sessions} session${exported.sessions === 1 ? "" : "s"}, ${exported.events} ${options.format === "jsonl" ? "lines" : "events"}`,
        );
    });
}
