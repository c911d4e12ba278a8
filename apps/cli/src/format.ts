import { stripVTControlCharacters } from "node:util";

import { sessionTitle } from "@logbook/sdk";

import type { Session } from "./types.js";

/** Formatting shared by the commands: numbers, money, times, one-line text. */

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

const englishPlural = new Intl.PluralRules("en");

/**
 * A count with its noun in the right number: "1 event", "2 events", "1 entry", "3 entries".
 * Every count the CLI prints in words goes through here, so none says "1 events".
 */
export function formatCount(n: number, singular: string, plural = `${singular}s`): string {
  return `${formatNumber(n)} ${englishPlural.select(n) === "one" ? singular : plural}`;
}

export function formatNumber(value: number): string {
  return integer.format(value);
}

/** Dollars with cents; amounts under a cent but above zero keep four decimals so they do not read as free. */
export function formatCost(usd: number): string {
  if (usd > 0 && usd < 0.01) return `$${usd.toFixed(4)}`;
  return `$${usd.toFixed(2)}`;
}

/** A cost that leaves out responses of models without a price is marked `*`, never shown as complete; one with only such responses is `unpriced`. */
export function formatPricedCost(usd: number, unpricedMessages: number): string {
  // No cost at all beside unpriced responses: "$0.00*" would read as free, when no price was known.
  if (unpricedMessages > 0 && usd === 0) return "unpriced";
  return unpricedMessages > 0 ? `${formatCost(usd)}*` : formatCost(usd);
}

export interface TokenCounts {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheCreationTokens: number;
  costUsd: number;
}

export function totalTokens(tokens: TokenCounts): number {
  return tokens.inputTokens + tokens.outputTokens + tokens.cacheReadTokens + tokens.cacheCreationTokens;
}

/** "42s", "5m 3s", "2h 10m", "3d 4h". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** "just now", "5m ago", "3h ago", "2d ago" relative to `now`. */
export function formatAgo(iso: string, now: Date = new Date()): string {
  const seconds = (now.getTime() - Date.parse(iso)) / 1000;
  if (seconds < 30) return "just now";
  if (seconds < 3600) return `${Math.round(seconds / 60)}m ago`;
  if (seconds < 86_400) return `${Math.round(seconds / 3600)}h ago`;
  return `${Math.round(seconds / 86_400)}d ago`;
}

/**
 * A terminal string (OSC such as a window title or a clipboard write, DCS, APC, PM, SOS) to its
 * terminator (BEL or ESC \\): `stripVTControlCharacters` leaves most of their text behind.
 */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const TERMINAL_STRING = /\u001b[\]P^_X][^\u0007\u001b]*(?:\u0007|\u001b\\)/g;

/** Control characters other than tab and line feed (C0, DEL, C1), after escape sequences are gone. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/**
 * Stored text made safe to print: what agents and tools wrote (a coloured test run, a title)
 * must not recolour, clear or retitle the reader's terminal. Escape sequences are removed,
 * line ends become `\n`, and any other control character shows as U+FFFD.
 */
export function printable(text: string): string {
  return stripVTControlCharacters(text.replace(TERMINAL_STRING, "")).replace(/\r\n?/g, "\n").replace(CONTROL, "\ufffd");
}

/** Collapses whitespace to one line and cuts it to `max` characters (with an ellipsis); printable. */
export function oneLine(text: string, max: number): string {
  const flat = printable(text).replace(/\s+/g, " ").trim();
  if (flat.length <= max) return flat;
  // By code points, not UTF-16 units: a cut through an emoji's surrogate pair would print U+FFFD.
  const characters = Array.from(flat);
  return characters.length <= max ? flat : `${characters.slice(0, Math.max(0, max - 1)).join("")}…`;
}

/**
 * What a person calls a session: its title, else its first prompt, else for a subagent seen
 * only through hooks its agent type (`(Explore subagent)`, the SDK's `sessionTitle`); else
 * `(untitled)`.
 */
export function sessionName(session: Session, max = 60): string {
  const text = sessionTitle(session);
  return text ? oneLine(text, max) : "(untitled)";
}

/** The id to type back into `logbook show`: the agent's own id when it has one. */
export function sessionHandle(session: Session): string {
  return session.externalId ?? session.id;
}
