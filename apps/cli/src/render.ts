import { cutToWidth } from "./fit.js";
import { oneLine, printable } from "./format.js";
import type { Colors } from "./output.js";
import { formatTimeOfDay } from "./time.js";
import type { TimelineEntry } from "./timeline.js";

/** How long one timeline line may get before it is cut (`--full` prints everything). */
export const LINE_WIDTH = 160;

/**
 * One timeline entry as a line, cut to `width` when there is one (a terminal's, `COLUMNS`);
 * with `full`, as many lines as its text has, whole.
 */
export function renderEntry(
  entry: TimelineEntry,
  colors: Colors,
  options: { timeZone: string; full?: boolean; prefix?: string; width?: number | undefined },
): string {
  const time = colors.dim(formatTimeOfDay(entry.at, options.timeZone));
  // With `full`, the text's later lines start under its first: past the prefix, the time and
  // the entry's mark (`› `, `◆ `, …; a result's `  ↳ ` is two wider).
  const mark = entry.kind === "tool_result" || entry.kind === "tool_error" ? 4 : 2;
  const indent = " ".repeat((options.prefix ?? "").length + 10 + mark);
  const text = options.full
    ? printable(entry.text).trimEnd().replace(/\n/g, `\n${indent}`)
    : oneLine(entry.text, LINE_WIDTH);
  const tool = entry.tool ?? "tool";
  let body: string;
  switch (entry.kind) {
    case "prompt":
      body = `${colors.bold(colors.green("›"))} ${colors.bold(text)}`;
      break;
    case "assistant":
      body = `${colors.blue("◆")} ${text}`;
      break;
    case "tool_call":
      body = `${colors.yellow(`⚙ ${tool}`)}  ${text}`;
      break;
    case "tool_result":
      body = `  ${colors.dim("↳")} ${colors.dim(text === "" ? "(no output)" : text)}`;
      break;
    case "tool_error":
      body = `  ${colors.red("✗")} ${colors.red(text)}`;
      break;
    case "error":
      body = `${colors.red("✗")} ${colors.red(text)}`;
      break;
    case "notice":
      body = `${colors.magenta("!")} ${text}`;
      break;
    case "subagent":
      body = `${colors.cyan("⑂")} ${text}`;
      break;
    case "lifecycle":
      body = colors.dim(`· ${text}`);
      break;
  }
  const line = `${options.prefix ?? ""}${time}  ${body}`;
  return options.full || options.width === undefined ? line : cutToWidth(line, options.width);
}
