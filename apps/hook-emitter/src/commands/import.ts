import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";

import { loadConfig, serverUrlArgument } from "../config.js";
import type { ImportSummary } from "../importer.js";
import { replacedNote } from "../flush.js";

/**
 * `logbook-hook import [PATH...]`: transcripts (default `$CLAUDE_CONFIG_DIR/projects`, i.e.
 * `~/.claude/projects`) through `events.ingest`. Exit 0 when everything was imported or there
 * was nothing to import; 1 when a line was skipped, the import stopped or a PATH does not exist.
 */
export async function importCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      url: { type: "string" },
      "api-key": { type: "string" },
      json: { type: "boolean" },
      "no-progress": { type: "boolean" },
    },
    strict: true,
  });
  const config = loadConfig();
  // Looked at before the key: with nothing to import, a missing key does not matter.
  if (positionals.length === 0) {
    const projects = join(config.claudeConfigDir, "projects");
    if (!existsSync(projects)) {
      // A machine where Claude Code never ran (or ran with another CLAUDE_CONFIG_DIR): not a failure.
      const summary = (await import("../importer.js")).emptyImportSummary();
      if (values.json === true) process.stdout.write(`${JSON.stringify(summary)}\n`);
      else process.stdout.write(`nothing to import: ${projects} does not exist (no Claude Code transcripts here)\n`);
      return 0;
    }
  }
  const missing = positionals.filter((path) => !existsSync(path));
  if (missing.length > 0) {
    process.stderr.write(`logbook-hook import: no such file or folder: ${missing.join(", ")}\n`);
    return 1;
  }
  const url = values.url === undefined ? config.url.replace(/\/+$/, "") : serverUrlArgument(values.url);
  const apiKey = values["api-key"] ?? config.apiKey;
  if (apiKey === undefined)
    throw new Error(`no API key: pass --api-key, set LOGBOOK_API_KEY or write ${config.credentialsFile}`);
  const paths = positionals.length > 0 ? positionals : [join(config.claudeConfigDir, "projects")];
  const { runImport, ImportAborted } = await import("../importer.js");
  const progress = values["no-progress"] !== true && values.json !== true && process.stderr.isTTY;
  const print = (summary: ImportSummary) => {
    if (values.json === true) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else
      process.stdout.write(
        `files ${summary.files}, sessions ${summary.sessions}, events ${summary.events}: ` +
          `${summary.accepted} accepted, ${summary.duplicates} duplicates, ${summary.errors} errors` +
          `${replacedNote(summary.replacedCharacters)}\n`,
      );
  };
  try {
    const summary = await runImport({
      url,
      apiKey,
      paths,
      progress,
      report: (line) => process.stderr.write(`${line}\n`),
    });
    print(summary);
    return summary.errors > 0 ? 1 : 0;
  } catch (error) {
    if (error instanceof ImportAborted) {
      print(error.summary);
      process.stderr.write(`import stopped: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
