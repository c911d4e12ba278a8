/**
 * The dashboard's one way to the API: tRPC's TanStack React Query integration on the
 * `AppRouter` type (from the SDK's declarations: types only, no server code in the bundle).
 * Same origin: the browser's session cookie authenticates every call.
 * - queries and mutations are batched over HTTP; every call carries `X-Logbook-CSRF: 1`,
 *   which the server requires of cookie-authenticated writes (a cross-site page cannot set it);
 * - a call or a live stream with no answer at all, when `/health` gets none either (the server
 *   is down, not one request dropped), shows a banner until it answers again
 *   (`server-reachability.tsx`);
 * - subscriptions are Server-Sent Events (EventSource): when the connection drops the browser
 *   reconnects and sends the last event id, so `events.onEvent` resumes where it stopped.
 */
import type { AppRouter } from "@logbook/sdk";
import { QueryClient } from "@tanstack/react-query";
import {
  createTRPCClient,
  httpBatchLink,
  httpSubscriptionLink,
  splitLink,
  TRPCClientError,
  type TRPCClient,
} from "@trpc/client";
import { createTRPCContext } from "@trpc/tanstack-react-query";

import { EventSourceNoticingUnreachable, fetchNoticingUnreachable } from "./server-reachability";

export const { TRPCProvider, useTRPC } = createTRPCContext<AppRouter>();

export const CSRF_HEADERS = { "x-logbook-csrf": "1" } as const;

export function createClient(options: { apiKey?: string } = {}): TRPCClient<AppRouter> {
  const url = `${window.location.origin}/trpc`;
  const headers = options.apiKey ? { ...CSRF_HEADERS, authorization: `Bearer ${options.apiKey}` } : CSRF_HEADERS;
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === "subscription",
        // The streams' drops and reconnects feed the same banner as the calls.
        true: httpSubscriptionLink({ url, EventSource: EventSourceNoticingUnreachable }),
        // Through the reachability check: a call the server does not answer shows the banner.
        false: httpBatchLink({ url, headers, maxItems: 10, fetch: fetchNoticingUnreachable }),
      }),
    ],
  });
}

/** The HTTP status of a failed call, when the server said one (401 means: sign in). */
export function errorStatus(error: unknown): number | null {
  if (!(error instanceof TRPCClientError)) return null;
  const data = (error as TRPCClientError<AppRouter>).data;
  return typeof data?.httpStatus === "number" ? data.httpStatus : null;
}

export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 10_000,
        // A refused key or a missing row will not fix itself by asking again.
        retry: (count, error) => {
          const status = errorStatus(error);
          return (status === null || status >= 500) && count < 2;
        },
      },
    },
  });
}
