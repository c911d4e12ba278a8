import type { LogbookClient } from "@logbook/sdk";
import { LogbookError } from "@logbook/sdk";
import { Command, InvalidArgumentError, Option } from "commander";

import type { ContextFactory } from "../context.js";
import { CliError, describeFailure, EXIT } from "../exit-codes.js";
import { sessionHandle, sessionName } from "../format.js";
import type { Output } from "../output.js";
import { renderEntry } from "../render.js";
import { resolveSession } from "../resolve.js";
import { allSessionEvents, lastSessionEventId } from "../session-events.js";
import { buildTimeline, entriesOf } from "../timeline.js";
import type { Event, Session } from "../types.js";

/**
 * `logbook tail [session]`: events as they are stored, over the SDK's SSE subscription,
 * until Ctrl-C. With a session, its last `-n` entries come first and the stream resumes
 * right after the last event printed, so nothing falls between the two. A dropped
 * connection (server restart, network) is retried for as long as it takes, and the stream
 * resumes after the last event it delivered: nothing missed, nothing twice.
 */
export function tailCommand(contexts: ContextFactory): Command {
  return new Command("tail")
    .description("follow events live (one session, or all); resumes after a dropped connection; Ctrl-C stops")
    .argument("[session]", "the session's id or the agent's own session id (default: every session)")
    .addOption(
      new Option(
        "-n, --lines <n>",
        "with a session: print its last <n> timeline entries first (with --json: its last <n> events)",
      )
        .default(10)
        .argParser(parseCount),
    )
    .option("--full", "print every line of prompts, answers and tool output (default: one line each)")
    .action(async (reference: string | undefined, options: { lines: number; full?: boolean }, command: Command) => {
      if (reference === undefined && command.getOptionValueSource("lines") === "cli") {
        // Without a session there is no history to print, only the live stream.
        throw new CliError("-n/--lines needs a session: logbook tail <session> -n N", EXIT.usage);
      }
      const context = contexts.create(command);
      const client = context.client();
      const out = context.out;
      let session: Session | null = null;
      let lastEventId: string | null = null;
      if (reference === undefined) {
        // The stream would wait for a server that is not there; say so now, as every other command does.
        await out.spin("connecting", () => client.auth.whoami.query());
      } else {
        const history = await out.spin("loading session", async () => {
          const found = await resolveSession(client, reference);
          if (options.lines === 0)
            return { session: found, events: [], last: await lastSessionEventId(client, found.id) };
          const events = await allSessionEvents(client, found.id);
          return { session: found, events, last: events.at(-1)?.id ?? null };
        });
        session = history.session;
        lastEventId = history.last;
        if (out.json) {
          // Lines of --json are events: the last <n> events, each with its id as the resume token.
          for (const event of history.events.slice(-options.lines)) {
            out.jsonLine({ id: event.id, event, timeline: entriesOf(event) });
          }
        } else {
          out.line(`${out.colors.bold(sessionName(session, 100))}  ${out.colors.dim(sessionHandle(session))}`);
          for (const entry of buildTimeline(history.events).slice(-options.lines)) {
            out.line(
              renderEntry(entry, out.colors, {
                full: options.full === true,
                timeZone: context.environment.timeZone,
                width: context.environment.width,
              }),
            );
          }
        }
      }
      process.exitCode = await follow(client, out, {
        sessionId: session?.id ?? null,
        lastEventId,
        full: options.full === true,
        url: context.url(),
        timeZone: context.environment.timeZone,
        width: context.environment.width,
      });
    });
}

function parseCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 100_000) {
    throw new InvalidArgumentError("must be a whole number from 0 to 100000");
  }
  return n;
}

/**
 * Why the stream dropped, in words for the person: what the HTTP client says ("TypeError:
 * terminated: other side closed", "fetch failed") names its own internals, not what happened.
 * The error's causes carry the socket's code, which does.
 */
function dropReason(error: unknown, url: string): string {
  const chain: Array<{ code?: unknown; message?: unknown }> = [];
  for (let link: unknown = error; typeof link === "object" && link !== null && chain.length < 10;) {
    const found = link as { code?: unknown; message?: unknown; cause?: unknown };
    chain.push(found);
    link = found.cause;
  }
  // The codes when the causes carry them, else the words: the SSE link keeps only the message.
  const has = (code: string, words?: RegExp) =>
    chain.some(
      (link) =>
        link.code === code || (words !== undefined && typeof link.message === "string" && words.test(link.message)),
    );
  if (has("ECONNREFUSED", /ECONNREFUSED/)) return `nothing answers at ${url}`;
  if (has("UND_ERR_SOCKET", /\bterminated\b|other side closed/)) {
    return `the server at ${url} closed the stream (it stopped or restarted)`;
  }
  if (has("ECONNRESET", /ECONNRESET/)) return `the connection to ${url} was reset`;
  if (has("ENOTFOUND", /ENOTFOUND|EAI_AGAIN/)) return `cannot resolve the host of ${url}`;
  if (has("ETIMEDOUT", /ETIMEDOUT|timeout/i)) return `${url} does not answer (timed out)`;
  const innermost = chain.findLast((link) => typeof link.message === "string" && link.message !== "")?.message;
  return `${url}: ${typeof innermost === "string" ? innermost.replace(/^(\w*Error: )+/, "") : "the stream ended"}`;
}

interface FollowOptions {
  sessionId: string | null;
  lastEventId: string | null;
  full: boolean;
  url: string;
  timeZone: string;
  width: number | undefined;
}

/** Streams until Ctrl-C/SIGTERM (exit 0) or an error the subscription cannot recover from. */
function follow(client: LogbookClient, out: Output, options: FollowOptions): Promise<number> {
  return new Promise((resolve) => {
    const names = new Map<string, string>();
    let currentSession: string | null = options.sessionId;
    let dropped = false;
    let started = false;

    // Printing keeps the stream's order: a session header is looked up (once) before its first line.
    let printing: Promise<void> = Promise.resolve();
    const print = (event: Event, id: string) => {
      printing = printing.then(async () => {
        if (out.json) {
          out.jsonLine({ id, event, timeline: entriesOf(event) });
          return;
        }
        if (options.sessionId === null && event.sessionId !== currentSession) {
          currentSession = event.sessionId;
          out.line(out.colors.bold(`── ${await nameOf(event.sessionId)}`));
        }
        for (const entry of entriesOf(event))
          out.line(
            renderEntry(entry, out.colors, { full: options.full, timeZone: options.timeZone, width: options.width }),
          );
      });
    };
    const nameOf = async (sessionId: string): Promise<string> => {
      let name = names.get(sessionId);
      if (name === undefined) {
        try {
          const session = await client.sessions.get.query({ id: sessionId });
          name = `${sessionName(session, 60)}  ${out.colors.dim(sessionHandle(session))}`;
        } catch {
          name = sessionId;
        }
        names.set(sessionId, name);
      }
      return name;
    };

    const subscription = client.events.onEvent.subscribe(
      {
        ...(options.sessionId !== null ? { sessionId: options.sessionId } : {}),
        ...(options.lastEventId !== null ? { lastEventId: options.lastEventId } : {}),
      },
      {
        onStarted: () => {
          if (!started) {
            started = true;
            out.notice(
              `following ${options.sessionId === null ? "every session" : "the session"} at ${options.url}, times in ${options.timeZone} (Ctrl-C to stop)`,
            );
          }
        },
        onData: (tracked) => print(tracked.data, tracked.id),
        onConnectionStateChange: (state) => {
          if (state.state === "connecting" && state.error && !dropped) {
            dropped = true;
            out.notice(`connection lost: ${dropReason(state.error, options.url)}; reconnecting… (Ctrl-C to stop)`);
          } else if (state.state === "pending" && dropped) {
            dropped = false;
            out.notice("reconnected; resuming after the last event shown");
          }
        },
        onError: (error) => {
          const failure = describeFailure(LogbookError.from(error), options.url);
          void printing.then(() => {
            stop();
            out.notice(`logbook: ${failure.message}`);
            resolve(failure.exitCode);
          });
        },
      },
    );

    const stop = () => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      subscription.unsubscribe();
    };
    const onSignal = () => {
      void printing.then(() => {
        stop();
        resolve(EXIT.ok);
      });
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}
