import Table from "cli-table3";
import picocolors from "picocolors";
import yoctoSpinner from "yocto-spinner";

import type { CliEnvironment } from "./config.js";

export type Colors = ReturnType<typeof picocolors.createColors>;

/**
 * Where a command's results go. Results on stdout (a table or text for people, one JSON
 * document with `--json`), progress and warnings on stderr, so `logbook … --json | jq`
 * always gets clean JSON.
 */
export interface Output {
  readonly json: boolean;
  readonly colors: Colors;
  /** A line of human output on stdout. */
  line(text?: string): void;
  /** The command's whole result as JSON on stdout (`--json`). */
  jsonResult(value: unknown): void;
  /** One JSON document per line on stdout (streams: `tail --json`). */
  jsonLine(value: unknown): void;
  /** A notice for the person on stderr (never part of the result). */
  notice(text: string): void;
  /** Runs `work` with a spinner on stderr when it is a terminal (and not `--json`). */
  spin<T>(text: string, work: (update: (text: string) => void) => Promise<T>): Promise<T>;
  /** A table as text: borders like ccusage's on a terminal, plain columns otherwise. */
  table(head: string[], rows: string[][], options?: { alignRight?: number[] }): string;
}

/**
 * The last guard before the terminal: our own output holds no escape sequence but colours
 * (SGR, `ESC[…m`), so any other ESC, and any control character but tab and line feed, is
 * shown as U+FFFD. Stored text is made printable where it is formatted (`printable`); this
 * catches a path that forgot.
 */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const NOT_OURS = /\u001b(?!\[[0-9;]*m)|[\u0000-\u0008\u000b-\u001a\u001c-\u001f\u007f-\u009f]/g;

export function terminalSafe(text: string): string {
  return text.replace(NOT_OURS, "\ufffd");
}

/**
 * JSON text with DEL and the C1 controls written as `\u00XX` (JSON.stringify escapes only
 * those below U+0020): the same value for a parser, nothing a terminal acts on.
 */
export function jsonEscaped(text: string): string {
  return text.replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

export function createOutput(environment: CliEnvironment, json: boolean): Output {
  const colors = picocolors.createColors(environment.color && !json);
  const write = (text: string) => process.stdout.write(terminalSafe(text));
  const writeJson = (text: string) => process.stdout.write(jsonEscaped(text));
  return {
    json,
    colors,
    line: (text = "") => write(`${text}\n`),
    jsonResult: (value) => writeJson(`${JSON.stringify(value, null, 2)}\n`),
    jsonLine: (value) => writeJson(`${JSON.stringify(value)}\n`),
    notice: (text) => process.stderr.write(`${terminalSafe(text)}\n`),
    async spin(text, work) {
      if (!environment.interactive || json) return work(() => undefined);
      // The CLI handles its own signals (tail stops on Ctrl-C), so the spinner must not exit for it.
      const spinner = yoctoSpinner({ text, stream: process.stderr, handleSignals: false }).start();
      try {
        return await work((next) => {
          spinner.text = next;
        });
      } finally {
        spinner.stop();
      }
    },
    table(head, rows, options = {}) {
      const right = new Set(options.alignRight ?? []);
      const align = head.map((_, index): "left" | "right" => (right.has(index) ? "right" : "left"));
      const table = environment.color
        ? new Table({ head: head.map((h) => colors.cyan(h)), colAligns: align, style: { head: [], border: [] } })
        : // No terminal: no box drawing, columns separated by two spaces, easy to cut and grep.
          new Table({
            head,
            colAligns: align,
            chars: {
              top: "",
              "top-mid": "",
              "top-left": "",
              "top-right": "",
              bottom: "",
              "bottom-mid": "",
              "bottom-left": "",
              "bottom-right": "",
              left: "",
              "left-mid": "",
              mid: "",
              "mid-mid": "",
              right: "",
              "right-mid": "",
              middle: "  ",
            },
            style: { head: [], border: [], "padding-left": 0, "padding-right": 0 },
          });
      table.push(...rows);
      return table.toString();
    },
  };
}
