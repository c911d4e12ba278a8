import Table from "cli-table3";
import picocolors from "picocolors";
import yoctoSpinner from "yocto-spinner";

import type { CliEnvironment } from "./config.js";
import { cellWidth, cutToWidth, fitTable } from "./fit.js";

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
  /**
   * A table as text: borders like ccusage's on a terminal, plain columns otherwise; fitted to
   * the width (`environment.width`) when there is one (see `TableOptions`).
   */
  table(head: string[], rows: string[][], options?: TableOptions): string;
  /** The table on stdout, then on stderr which columns a narrow terminal left out, if any. */
  printTable(head: string[], rows: string[][], options?: TableOptions): void;
}

export interface TableOptions {
  /** Columns whose cells are right-aligned (numbers). */
  alignRight?: number[];
  /**
   * Free-text columns that may be cut with `…` when the table is wider than the terminal:
   * never below `min` (default 16, and never below the heading), cut at the end unless
   * `keep` is "end" (a path, whose last part says most).
   */
  shrink?: Array<{ column: number; min?: number; keep?: "start" | "end" }>;
  /** Columns that may be left out when cutting is not enough, the least needed first. */
  drop?: number[];
}

/** A free-text column is never cut below this (or its heading, or its widest cell). */
const MIN_FREE_TEXT = 16;

/** No box drawing, columns separated by two spaces: easy to cut and grep. */
const PLAIN_CHARS = {
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
};

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
  const notice = (text: string) => process.stderr.write(`${terminalSafe(text)}\n`);
  const renderTable = (head: string[], rows: string[][], options: TableOptions = {}) => {
    const natural = head.map((heading, column) =>
      Math.max(cellWidth(heading), ...rows.map((row) => cellWidth(row[column] ?? ""))),
    );
    const layout = fitTable({
      natural,
      available: environment.width,
      bordered: environment.color,
      // Without borders, a cell's second line would read as a row of its own.
      keepBorders: rows.some((row) => row.some((cell) => cell.includes("\n"))),
      shrink: new Map(
        (options.shrink ?? []).map(({ column, min = MIN_FREE_TEXT }) => [
          column,
          Math.max(cellWidth(head[column] ?? ""), min),
        ]),
      ),
      drop: options.drop ?? [],
    });
    const keepEnd = new Set((options.shrink ?? []).filter((s) => s.keep === "end").map((s) => s.column));
    const pick = (cells: readonly string[]) =>
      layout.columns.map((column, shown) =>
        cutToWidth(cells[column] ?? "", layout.widths[shown] ?? 0, keepEnd.has(column) ? "start" : "end"),
      );
    const right = new Set(options.alignRight ?? []);
    const align = layout.columns.map((column): "left" | "right" => (right.has(column) ? "right" : "left"));
    const shownHead = pick(head);
    const table = layout.bordered
      ? new Table({
          head: shownHead.map((h) => colors.cyan(h)),
          colAligns: align,
          style: { head: [], border: [] },
        })
      : new Table({
          head: environment.color ? shownHead.map((h) => colors.cyan(h)) : shownHead,
          colAligns: align,
          chars: PLAIN_CHARS,
          style: { head: [], border: [], "padding-left": 0, "padding-right": 0 },
        });
    table.push(...rows.map(pick));
    return { text: table.toString(), left: layout.dropped.map((column) => head[column] ?? "") };
  };

  return {
    json,
    colors,
    line: (text = "") => write(`${text}\n`),
    jsonResult: (value) => writeJson(`${JSON.stringify(value, null, 2)}\n`),
    jsonLine: (value) => writeJson(`${JSON.stringify(value)}\n`),
    notice,
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
    table: (head, rows, options) => renderTable(head, rows, options).text,
    printTable(head, rows, options) {
      const { text, left } = renderTable(head, rows, options);
      write(`${text}\n`);
      if (left.length > 0) {
        notice(
          colors.dim(
            `${environment.width ?? 0} columns: ${left.join(", ")} left out (a wider terminal, COLUMNS or --json shows them)`,
          ),
        );
      }
    },
  };
}
