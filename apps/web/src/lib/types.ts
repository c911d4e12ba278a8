/**
 * The API's types as the dashboard uses them, inferred from the router's type (never
 * written twice): what a procedure returns is what these are.
 */
import type { AppRouter } from "@logbook/sdk";
import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";

export type RouterOutputs = inferRouterOutputs<AppRouter>;
export type RouterInputs = inferRouterInputs<AppRouter>;

export type Session = RouterOutputs["sessions"]["get"];
export type SessionTree = RouterOutputs["sessions"]["tree"];
export type EventSummary = RouterOutputs["events"]["listSummariesForSession"]["items"][number];
export type UsageReport = RouterOutputs["usage"]["report"];
export type UsageGrouping = RouterInputs["usage"]["report"]["groupBy"];
