import type { RouterOutputs } from "@logbook/sdk";

/**
 * Records as the API answers them (the router's output types, after their trip through
 * JSON), which is what the CLI handles; the contract types describe the server's side.
 */
export type Session = RouterOutputs["sessions"]["get"];
export type SessionTree = RouterOutputs["sessions"]["tree"];
export type Event = RouterOutputs["events"]["get"];
export type Project = RouterOutputs["projects"]["get"];
