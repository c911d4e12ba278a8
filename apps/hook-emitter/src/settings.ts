/**
 * Pure edits of Claude Code's settings JSON: add Logbook's hook handler under hook events,
 * and take it out again. Nothing else in the file is touched; the text is re-serialised in the
 * file's own layout (indent, line ends, final newline), so a file in standard JSON layout
 * comes back byte for byte after install + uninstall.
 *
 * Our handlers are recognised by what they are (a `command` that runs `logbook-hook`, an
 * `http` hook to `…/hooks/claude-code` that passes `LOGBOOK_API_KEY`) rather than by an extra
 * marker key, because Claude Code validates its settings and an unknown key could make it
 * refuse the whole file.
 */

/**
 * Every hook event Claude Code's hooks reference documents (33, late 2026; `settings.test.ts`
 * checks this list against `KNOWN_EVENT_TYPES.claudeCodeHooks` in the contracts).
 */
export const CLAUDE_CODE_HOOK_EVENTS = [
  "SessionStart",
  "Setup",
  "InstructionsLoaded",
  "UserPromptSubmit",
  "UserPromptExpansion",
  "MessageDisplay",
  "PreToolUse",
  "PermissionRequest",
  "PostToolUse",
  "PostToolUseFailure",
  "PostToolBatch",
  "PermissionDenied",
  "Notification",
  "SubagentStart",
  "SubagentStop",
  "TaskCreated",
  "TaskCompleted",
  "Stop",
  "StopFailure",
  "TeammateIdle",
  "ConfigChange",
  "CwdChanged",
  "DirectoryAdded",
  "FileChanged",
  "WorktreeCreate",
  "WorktreeRemove",
  "PreCompact",
  "PostCompact",
  "PreModelSwitch",
  "PostModelSwitch",
  "SessionEnd",
  "Elicitation",
  "ElicitationResult",
] as const;

const DOCUMENTED_HOOK_EVENTS: ReadonlySet<string> = new Set(CLAUDE_CODE_HOOK_EVENTS);

/** Whether Claude Code's hooks reference documents this event (see CLAUDE_CODE_HOOK_EVENTS). */
export function isDocumentedHookEvent(event: string): boolean {
  return DOCUMENTED_HOOK_EVENTS.has(event);
}

/**
 * The events Claude Code has known the longest. A version older than an event refuses the
 * whole settings file that names it ("Invalid key in record"), so `install` says so when it
 * writes any other.
 */
export const CORE_HOOK_EVENTS: ReadonlySet<string> = new Set([
  "SessionStart",
  "UserPromptSubmit",
  "PreToolUse",
  "PostToolUse",
  "Notification",
  "Stop",
  "SubagentStop",
  "PreCompact",
  "SessionEnd",
]);

export const OLDER_CLAUDE_CODE_NOTE =
  "an older Claude Code that does not know one of these events skips the whole settings file (at start: Settings Error, Invalid key in record); update Claude Code, or uninstall and install only the long-known events: --events " +
  [...CORE_HOOK_EVENTS].join(",");

/**
 * Events `install` refuses: a WorktreeCreate/WorktreeRemove hook *replaces* Claude Code's own
 * git worktree handling (the hook must create the worktree and print its path), so a recorder
 * there would break `--worktree` and subagent worktrees. Their events still reach Logbook when
 * someone's own worktree hook forwards them.
 */
export const REFUSED_HOOK_EVENTS: ReadonlyMap<string, string> = new Map([
  ["WorktreeCreate", "a WorktreeCreate hook replaces Claude Code's own git worktree creation"],
  ["WorktreeRemove", "a WorktreeRemove hook replaces Claude Code's own git worktree removal"],
]);

/**
 * Installable but not by default: MessageDisplay fires for every piece of a streamed reply,
 * so a hook there starts a process per chunk (`install --events MessageDisplay,…` adds it).
 */
const OPT_IN_HOOK_EVENTS: ReadonlySet<string> = new Set(["MessageDisplay"]);

/** The events `install` covers by default: every documented one it may install, but MessageDisplay. */
export const DEFAULT_HOOK_EVENTS: readonly string[] = CLAUDE_CODE_HOOK_EVENTS.filter(
  (event) => !REFUSED_HOOK_EVENTS.has(event) && !OPT_IN_HOOK_EVENTS.has(event),
);

/**
 * Events whose handlers take a `matcher` (tool name, source, trigger, reason, type, MCP
 * server…): ours matches everything with `*`. Not FileChanged, whose matcher names the files
 * Claude Code should watch: choosing them is the person's business.
 */
const MATCHER_EVENTS = new Set([
  "PreToolUse",
  "PostToolUse",
  "PostToolUseFailure",
  "PermissionRequest",
  "PermissionDenied",
  "Notification",
  "SessionStart",
  "SessionEnd",
  "SubagentStart",
  "SubagentStop",
  "PreCompact",
  "PostCompact",
  "Setup",
  "InstructionsLoaded",
  "UserPromptExpansion",
  "StopFailure",
  "ConfigChange",
  "Elicitation",
  "ElicitationResult",
]);

/**
 * Events whose hooks Claude Code runs only as `command` hooks (no `http`): `install --http`
 * gives them a command hook instead.
 */
export const COMMAND_ONLY_EVENTS: ReadonlySet<string> = new Set(["SessionStart", "Setup"]);

/** Seconds Claude Code waits for an `http` hook: the server answers in milliseconds, and the agent waits. */
export const HTTP_HOOK_TIMEOUT_S = 3;

export const EVENT_NAME = /^[A-Za-z][A-Za-z0-9_]{0,99}$/;

export class SettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SettingsError";
  }
}

export interface CommandHookHandler {
  type: "command";
  command: string;
  timeout: number;
  async?: true;
}
export interface HttpHookHandler {
  type: "http";
  url: string;
  headers: Record<string, string>;
  allowedEnvVars: string[];
  timeout: number;
}
export type HookHandler = CommandHookHandler | HttpHookHandler;

/** `async: true` (newer Claude Code versions) lets the agent go on without waiting for the hook. */
export function commandHandler(command = "logbook-hook", options: { async?: boolean } = {}): CommandHookHandler {
  return { type: "command", command, timeout: 5, ...(options.async === true ? { async: true as const } : {}) };
}

export function httpHandler(baseUrl: string): HttpHookHandler {
  return {
    type: "http",
    url: `${baseUrl.replace(/\/+$/, "")}/hooks/claude-code`,
    // Claude Code fills `$LOGBOOK_API_KEY` from its own environment, and only because it is
    // listed in allowedEnvVars: the key itself never lands in the settings file.
    headers: { Authorization: "Bearer $LOGBOOK_API_KEY" },
    allowedEnvVars: ["LOGBOOK_API_KEY"],
    timeout: HTTP_HOOK_TIMEOUT_S,
  };
}

const OUR_COMMAND = /(?:^|[\s/\\"'])logbook-hook(?:\.c?js)?(?=$|[\s"'])/;

export function isLogbookHandler(handler: unknown): boolean {
  if (handler === null || typeof handler !== "object") return false;
  const h = handler as Record<string, unknown>;
  if (h.type === "command") return typeof h.command === "string" && OUR_COMMAND.test(h.command);
  if (h.type === "http") {
    return (
      typeof h.url === "string" &&
      /\/hooks\/claude-code\/?(?:[?#].*)?$/.test(h.url) &&
      Array.isArray(h.allowedEnvVars) &&
      h.allowedEnvVars.includes("LOGBOOK_API_KEY")
    );
  }
  return false;
}

/** What of Logbook a settings file holds: the events with one of our handlers, and their kinds. */
export interface InstalledHooks {
  events: string[];
  kinds: Array<"command" | "http">;
  /** The settings' own `env` block (Claude Code sets it for itself and its hooks). */
  env: Record<string, string>;
}

/** Reads a settings file's text for `status`; throws SettingsError when it is not JSON. */
export function installedHooks(text: string): InstalledHooks {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch (error) {
    throw new SettingsError(`not valid JSON: ${(error as Error).message}`);
  }
  const root = parsed !== null && typeof parsed === "object" ? (parsed as Record<string, unknown>) : {};
  const events: string[] = [];
  const kinds = new Set<"command" | "http">();
  const hooks = root.hooks !== null && typeof root.hooks === "object" ? (root.hooks as Record<string, unknown>) : {};
  for (const [event, groups] of Object.entries(hooks)) {
    if (!Array.isArray(groups)) continue;
    const ours = groups
      .flatMap((group: unknown) => {
        const list = (group as { hooks?: unknown } | null)?.hooks;
        return Array.isArray(list) ? (list as unknown[]) : [];
      })
      .filter(isLogbookHandler) as Array<{ type: "command" | "http" }>;
    if (ours.length === 0) continue;
    events.push(event);
    for (const handler of ours) kinds.add(handler.type);
  }
  const env: Record<string, string> = {};
  if (root.env !== null && typeof root.env === "object")
    for (const [key, value] of Object.entries(root.env as Record<string, unknown>))
      if (typeof value === "string") env[key] = value;
  return { events, kinds: [...kinds].sort(), env };
}

export interface Layout {
  bom?: boolean;
  indent: string;
  eol: "\n" | "\r\n";
  finalNewline: boolean;
}

export function detectLayout(text: string): Layout {
  const eol = text.includes("\r\n") ? "\r\n" : "\n";
  const indentMatch = /\n([ \t]+)\S/.exec(text);
  return {
    bom: text.charCodeAt(0) === 0xfeff,
    indent: indentMatch?.[1] ?? "  ",
    eol,
    finalNewline: text.length === 0 || /\n$/.test(text),
  };
}

export function serialize(value: unknown, layout: Layout): string {
  let text = JSON.stringify(value, null, layout.indent);
  if (layout.eol === "\r\n") text = text.replace(/\n/g, "\r\n");
  if (layout.bom === true) text = `\ufeff${text}`;
  return layout.finalNewline ? text + layout.eol : text;
}

/** True when `text` is exactly what re-serialising it would give (so edits change nothing else). */
export function isStandardLayout(text: string): boolean {
  try {
    return serialize(JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text), detectLayout(text)) === text;
  } catch {
    return false;
  }
}

type Settings = Record<string, unknown>;

function parseSettings(text: string | undefined): { settings: Settings; layout: Layout } {
  if (text === undefined || text.trim() === "")
    return { settings: {}, layout: { indent: "  ", eol: "\n", finalNewline: true } };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    throw new SettingsError(
      `the settings file is not valid JSON (${(error as Error).message}); fix it first, nothing was changed`,
    );
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new SettingsError("the settings file does not hold a JSON object; nothing was changed");
  }
  return { settings: parsed as Settings, layout: detectLayout(text) };
}

function hooksOf(settings: Settings): Record<string, unknown> | undefined {
  const hooks = settings.hooks;
  if (hooks === undefined) return undefined;
  if (hooks === null || typeof hooks !== "object" || Array.isArray(hooks)) {
    throw new SettingsError('"hooks" in the settings file is not an object; nothing was changed');
  }
  return hooks as Record<string, unknown>;
}

function groupHasOurs(group: unknown): boolean {
  if (group === null || typeof group !== "object") return false;
  const handlers = (group as { hooks?: unknown }).hooks;
  return Array.isArray(handlers) && handlers.some(isLogbookHandler);
}

export interface SettingsEdit {
  text: string;
  changed: boolean;
  /** Events that got our handler or had it replaced (install), or lost it (uninstall). */
  events: string[];
  /** Of `events`, those where install replaced a different handler of ours (another `--command`, `--http`…). */
  replaced: string[];
}

/** JSON text with sorted keys: two handlers are the same whatever order their keys came in. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * Puts `handler` where our handlers are in `groups`: the first of ours is replaced in place
 * (its group keeps its matcher and the person's other handlers), any further one of ours is
 * removed, with its group when nothing else is left in it. Null when nothing changes.
 */
function replaceOurs(groups: unknown[], handler: HookHandler): unknown[] | null {
  let placed = false;
  let changed = false;
  const kept: unknown[] = [];
  for (const group of groups) {
    if (!groupHasOurs(group)) {
      kept.push(group);
      continue;
    }
    const handlers: unknown[] = [];
    for (const existing of (group as { hooks: unknown[] }).hooks) {
      if (!isLogbookHandler(existing)) handlers.push(existing);
      else if (!placed) {
        placed = true;
        if (canonicalJson(existing) !== canonicalJson(handler)) changed = true;
        handlers.push(handler);
      } else changed = true;
    }
    if (handlers.length > 0) kept.push({ ...(group as object), hooks: handlers });
    else changed = true;
  }
  return changed ? kept : null;
}

/**
 * Adds our handler under each event, or replaces ours where a different one is there (so a
 * second install with another `--command`, or with `--http`, takes effect). `handler` may
 * depend on the event (`--http` gives command-only events a command hook).
 */
export function installHooks(
  text: string | undefined,
  options: { events: readonly string[]; handler: HookHandler | ((event: string) => HookHandler) },
): SettingsEdit {
  const { settings, layout } = parseSettings(text);
  for (const event of options.events) {
    if (!EVENT_NAME.test(event)) throw new SettingsError(`not a hook event name: ${JSON.stringify(event)}`);
  }
  let hooks = hooksOf(settings);
  const added: string[] = [];
  const replaced: string[] = [];
  for (const event of options.events) {
    const handler = typeof options.handler === "function" ? options.handler(event) : options.handler;
    // Own keys only: an event named "constructor" must not find Object.prototype's.
    const existing = hooks !== undefined && Object.hasOwn(hooks, event) ? hooks[event] : undefined;
    if (existing !== undefined && !Array.isArray(existing)) {
      throw new SettingsError(`"hooks.${event}" in the settings file is not a list; nothing was changed`);
    }
    if (hooks !== undefined && existing?.some(groupHasOurs)) {
      const groups = replaceOurs(existing, handler);
      if (groups !== null) {
        hooks[event] = groups;
        added.push(event);
        replaced.push(event);
      }
      continue;
    }
    const group = MATCHER_EVENTS.has(event) ? { matcher: "*", hooks: [handler] } : { hooks: [handler] };
    if (hooks === undefined) {
      hooks = {};
      settings.hooks = hooks;
    }
    if (existing === undefined) hooks[event] = [group];
    else existing.push(group);
    added.push(event);
  }
  if (added.length === 0) return { text: text ?? "", changed: false, events: [], replaced: [] };
  return { text: serialize(settings, layout), changed: true, events: added, replaced };
}

export function uninstallHooks(text: string | undefined): SettingsEdit {
  if (text === undefined) return { text: "", changed: false, events: [], replaced: [] };
  const { settings, layout } = parseSettings(text);
  const hooks = hooksOf(settings);
  if (hooks === undefined) return { text, changed: false, events: [], replaced: [] };
  const removed: string[] = [];
  for (const [event, groups] of Object.entries(hooks)) {
    if (!Array.isArray(groups)) continue;
    let touched = false;
    const kept: unknown[] = [];
    for (const group of groups) {
      if (!groupHasOurs(group)) {
        kept.push(group);
        continue;
      }
      touched = true;
      const handlers = (group as { hooks: unknown[] }).hooks.filter((handler) => !isLogbookHandler(handler));
      if (handlers.length > 0) kept.push({ ...(group as object), hooks: handlers });
    }
    if (!touched) continue;
    removed.push(event);
    if (kept.length > 0) hooks[event] = kept;
    else delete hooks[event];
  }
  if (removed.length === 0) return { text, changed: false, events: [], replaced: [] };
  if (Object.keys(hooks).length === 0) delete settings.hooks;
  return { text: serialize(settings, layout), changed: true, events: removed, replaced: [] };
}

/**
 * The environment Claude Code needs to export its OpenTelemetry to Logbook's OTLP/HTTP
 * intake (`/v1/logs`, `/v1/metrics`, `/v1/traces` under `url`). The key travels in
 * `OTEL_EXPORTER_OTLP_HEADERS`: whoever writes these must keep them private.
 */
export function otelEnvironment(url: string, apiKey: string): Record<string, string> {
  return {
    CLAUDE_CODE_ENABLE_TELEMETRY: "1",
    OTEL_LOGS_EXPORTER: "otlp",
    OTEL_METRICS_EXPORTER: "otlp",
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
    OTEL_EXPORTER_OTLP_ENDPOINT: url,
    OTEL_EXPORTER_OTLP_HEADERS: `Authorization=Bearer ${apiKey}`,
  };
}

/**
 * Removes what `install --otel` set (the names of `otelEnvironment`) from the settings'
 * `env` block, other variables kept, when its OTLP header carries a Logbook key
 * (`Bearer lbk_…`): telemetry someone sends elsewhere is not ours to turn off.
 */
export function uninstallOtelEnv(text: string | undefined): { text: string; changed: boolean; elsewhere: boolean } {
  const unchanged = { text: text ?? "", changed: false };
  if (text === undefined) return { ...unchanged, elsewhere: false };
  const { settings, layout } = parseSettings(text);
  const env = settings.env;
  if (env === null || typeof env !== "object" || Array.isArray(env)) return { ...unchanged, elsewhere: false };
  const vars = env as Record<string, unknown>;
  const names = Object.keys(otelEnvironment("", ""));
  if (!names.some((name) => name in vars)) return { ...unchanged, elsewhere: false };
  const header = vars.OTEL_EXPORTER_OTLP_HEADERS;
  if (typeof header !== "string" || !/^Authorization=Bearer lbk_/.test(header))
    return { ...unchanged, elsewhere: true };
  const kept = Object.fromEntries(Object.entries(vars).filter(([name]) => !names.includes(name)));
  if (Object.keys(kept).length === 0) delete settings.env;
  else settings.env = kept;
  return { text: serialize(settings, layout), changed: true, elsewhere: false };
}

/** Sets `vars` in the settings' `env` block (other variables kept); unchanged when they are already so. */
export function installEnv(text: string | undefined, vars: Record<string, string>): { text: string; changed: boolean } {
  const { settings, layout } = parseSettings(text);
  const current = settings.env;
  if (current !== undefined && (current === null || typeof current !== "object" || Array.isArray(current)))
    throw new SettingsError(`"env" in the settings file is not an object; nothing was changed`);
  const env = (current ?? {}) as Record<string, unknown>;
  const changed = Object.entries(vars).some(([key, value]) => env[key] !== value);
  if (!changed) return { text: text ?? "", changed: false };
  settings.env = { ...env, ...vars };
  return { text: serialize(settings, layout), changed: true };
}
