import { type FileHandle, open, rm, stat } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

import { Command } from "commander";

import type { ContextFactory } from "../context.js";
import { CliError, EXIT } from "../exit-codes.js";
import { formatCount } from "../format.js";
import { resolveSession } from "../resolve.js";

const FORMATS = ["md", "json", "jsonl"] as const;
type Format = (typeof FORMATS)[number];

/** The download's bytes as a Node stream (the SDK gives the web stream `fetch` does). */
const nodeStream = (body: ReadableStream<Uint8Array>) => Readable.fromWeb(body);

const isFolder = (path: string) =>
  stat(path).then(
    (found) => found.isDirectory(),
    () => false,
  );

/** `/dev/null`, `/dev/stderr`, a terminal: a device is written to, never created, replaced or removed. */
const isCharacterDevice = (path: string) =>
  stat(path).then(
    (found) => found.isCharacterDevice(),
    () => false,
  );

/**
 * Writes the download to a new file readable by its owner only (0600): an export holds
 * prompts, code and tool output. An existing file is refused rather than replaced, and a
 * download cut short leaves no file behind: a partial export must not pass for a whole one.
 * A character device (`/dev/null`) is the exception: it is written to, and never removed.
 */
async function writePrivateFile(path: string, body: ReadableStream<Uint8Array>): Promise<void> {
  let file: FileHandle;
  let device = false;
  try {
    file = await open(path, "wx", 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    device = code === "EEXIST" && (await isCharacterDevice(path));
    if (!device) {
      await body.cancel();
      if (code === "EEXIST" && (await isFolder(path)))
        throw new CliError(`${path} is a folder; give a file name in it`, EXIT.usage);
      if (code === "EEXIST") throw new CliError(`${path} exists; give another file or remove it first`, EXIT.usage);
      if (code === "ENOENT") throw new CliError(`cannot write ${path}: its folder does not exist`, EXIT.usage);
      throw new CliError(`cannot write ${path}: ${(error as Error).message}`, EXIT.error);
    }
    try {
      file = await open(path, "w");
    } catch (deviceError) {
      await body.cancel();
      throw new CliError(`cannot write ${path}: ${(deviceError as Error).message}`, EXIT.error);
    }
  }
  try {
    await pipeline(nodeStream(body), file.createWriteStream());
  } catch (error) {
    if (device) throw new CliError(`the export was cut short: ${(error as Error).message}`, EXIT.error);
    await rm(path, { force: true });
    throw new CliError(`the export was cut short (${(error as Error).message}); ${path} was not kept`, EXIT.error);
  }
}

/**
 * `logbook export <session> --format md|json|jsonl [-o file]`: the session with its
 * subagents, streamed from the server (`GET /export/sessions/<id>`), so a session of any
 * size goes to the file without being held in memory. On stdout without `-o`.
 */
export function exportCommand(contexts: ContextFactory): Command {
  return new Command("export")
    .description("a session with its subagents as Markdown, JSON, or its original JSONL transcript lines")
    .argument("<session>", "Logbook's session id or the agent's own session id")
    .requiredOption("-f, --format <format>", `one of ${FORMATS.join(", ")}`)
    .option("-o, --output <file>", "write to this new file (0600) instead of stdout (- is stdout)")
    .action(async (reference: string, options: { format: string; output?: string }, command: Command) => {
      if (!(FORMATS as readonly string[]).includes(options.format)) {
        throw new CliError(`--format ${options.format}: give one of ${FORMATS.join(", ")}`, EXIT.usage);
      }
      const context = contexts.create(command);
      const client = context.client();
      const download = await context.out.spin(`exporting ${reference}`, async () => {
        const session = await resolveSession(client, reference);
        return client.downloadExport({ id: session.id, format: options.format as Format });
      });
      // An empty transcript is not a failed export, but it should not look like one.
      const noLines =
        options.format === "jsonl" && download.events === 0
          ? "no transcript lines: this session was recorded by its hooks only (--format md or json has its events)"
          : null;
      const counts = `${formatCount(download.sessions, "session")}, ${formatCount(download.events, options.format === "jsonl" ? "line" : "event")}`;
      // `-o -` is stdout, as for most Unix tools, not a file named "-".
      if (options.output === undefined || options.output === "-") {
        try {
          await pipeline(nodeStream(download.body), process.stdout, { end: false });
        } catch (error) {
          throw new CliError(`the export was cut short: ${(error as Error).message}`, EXIT.error);
        }
        // Stdout is the export itself (with --json too: the format says what it is), so the
        // summary a file gets goes to stderr, the same words in every mode.
        context.out.notice(`wrote to stdout: ${counts}`);
        if (noLines) context.out.notice(noLines);
        return;
      }
      await writePrivateFile(options.output, download.body);
      const summary = {
        file: options.output,
        format: options.format,
        sessions: download.sessions,
        events: download.events,
      };
      if (context.out.json) context.out.jsonResult(summary);
      else context.out.notice(`wrote ${options.output}: ${counts}`);
      if (noLines) context.out.notice(noLines);
    });
}
