import { join } from "node:path";
import { parseArgs } from "node:util";

import { loadConfig } from "../config.js";
import type { ImportSummary } from "../importer.js";

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
  const url = (values.url ?? config.url).replace(/\/+$/, "");
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
          `${summary.accepted} accepted, ${summary.duplicates} duplicates, ${summary.errors} errors\n`,
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
