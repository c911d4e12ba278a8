/**
 * The one line a timeline shows for an event that came without a `message`: the first
 * words of what was said, or the tool and its main input. Computed once at ingest (a few
 * field reads and one slice: the hot path stays cheap) and stored as the event's
 * `message`, so timeline summaries, which leave the payload out, still say something.
 */

/** Long enough to recognise a prompt or a command, short enough for one timeline row. */
export const SUMMARY_MAX_CHARS = 160;

/** Tool input fields that say what a call does, most telling first. */
const MAIN_INPUT_KEYS = [
  "command",
  "file_path",
  "notebook_path",
  "path",
  "pattern",
  "url",
  "query",
  "skill",
  "description",
  "prompt",
  "subject",
];

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** Whitespace collapsed, cut on a word boundary with an ellipsis when too long. */
export function firstWords(text: string, max = SUMMARY_MAX_CHARS): string | undefined {
  // Only the head is looked at: a 100 KB reply costs no more than a short one.
  const flat = text
    .slice(0, max * 4)
    .replace(/\s+/g, " ")
    .trim();
  if (flat.length === 0) return undefined;
  if (flat.length <= max) return flat;
  const cut = flat.slice(0, max - 1);
  const space = cut.lastIndexOf(" ");
  return `${space > max / 2 ? cut.slice(0, space) : cut}…`;
}

function mainInput(input: unknown): string | undefined {
  if (!isObject(input)) return undefined;
  for (const key of MAIN_INPUT_KEYS) {
    const value = input[key];
    if (typeof value === "string" && value.trim() !== "") return value;
  }
  for (const value of Object.values(input)) {
    if (typeof value === "string" && value.trim() !== "") return value;
  }
  return undefined;
}

function toolCall(name: unknown, input: unknown): string | undefined {
  if (typeof name !== "string" || name === "") return undefined;
  const what = mainInput(input);
  return firstWords(what === undefined ? name : `${name}: ${what}`);
}

function contentText(content: unknown): string | undefined {
  if (typeof content === "string") return firstWords(content);
  if (!Array.isArray(content)) return undefined;
  for (const block of content) if (isObject(block) && typeof block.text === "string") return firstWords(block.text);
  return undefined;
}

/** A transcript line's message content: its text, else its first tool call, else its first tool result. */
function messageSummary(content: unknown): string | undefined {
  if (!Array.isArray(content)) return contentText(content);
  const blocks = content.filter(isObject);
  const text = blocks.find((b) => b.type === "text" && typeof b.text === "string" && b.text.trim() !== "");
  if (text) return firstWords(text.text as string);
  const call = blocks.find((b) => b.type === "tool_use");
  if (call) return toolCall(call.name, call.input);
  const result = blocks.find((b) => b.type === "tool_result");
  if (result) {
    const said = contentText(result.content);
    return said === undefined ? "tool result" : firstWords(`tool result: ${said}`);
  }
  return undefined;
}

function transcriptSummary(line: Json): string | undefined {
  switch (line.type) {
    case "user":
    case "assistant":
      return isObject(line.message) ? messageSummary(line.message.content) : undefined;
    case "summary":
      return typeof line.summary === "string" ? firstWords(line.summary) : undefined;
    case "ai-title":
      return typeof line.title === "string" ? firstWords(line.title) : undefined;
    case "system":
      return typeof line.content === "string" ? firstWords(line.content) : undefined;
    default:
      return undefined;
  }
}

/** The text to show for an event without a message, or undefined when it has nothing to say. */
export function summaryText(source: string, eventType: string, payload: Json): string | undefined {
  if (source === "transcript") return transcriptSummary(payload);
  if (source === "hook") {
    if (typeof payload.tool_name === "string") return toolCall(payload.tool_name, payload.tool_input);
    if (eventType === "Stop" || eventType === "SubagentStop") {
      return typeof payload.last_assistant_message === "string"
        ? firstWords(payload.last_assistant_message)
        : undefined;
    }
  }
  return undefined;
}
