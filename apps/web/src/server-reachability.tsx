/**
 * Whether the server answers: every API call goes through `fetchNoticingUnreachable`, which
 * records a network failure (no answer at all: the server is down, or the network is) and
 * any answer after one. While the server is unreachable a banner says so and asks
 * `/health` every POLL_MS; its first answer takes the banner away and loads again the
 * queries that failed meanwhile with nothing to show (their own retries stop after a few
 * tries).
 */
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useSyncExternalStore } from "react";

/** How often `/health` is asked while the server does not answer. */
const POLL_MS = 2_000;

let unreachable = false;
const listeners = new Set<() => void>();

function setUnreachable(next: boolean): void {
  if (unreachable === next) return;
  unreachable = next;
  for (const listener of listeners) listener();
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/**
 * `fetch`, noting whether the server answered. Any HTTP answer counts (an error status is
 * the server's word, shown where it was asked); a call the page aborted itself does not.
 */
export async function fetchNoticingUnreachable(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  try {
    const response = await fetch(input, init);
    setUnreachable(false);
    return response;
  } catch (error) {
    if (!init?.signal?.aborted) setUnreachable(true);
    throw error;
  }
}

/** Non-blocking: the page stays as it is under it (what was loaded is still readable). */
export function ServerUnreachableBanner() {
  const down = useSyncExternalStore(subscribe, () => unreachable);
  const queryClient = useQueryClient();
  useEffect(() => {
    if (!down) return;
    const timer = setInterval(() => {
      fetchNoticingUnreachable("/health", { cache: "no-store" }).catch(() => undefined);
    }, POLL_MS);
    return () => {
      clearInterval(timer);
      // Back: what failed with nothing to show while it was away is asked again. A query that
      // shows data and failed for more (a later page) keeps its own "Try again", and a fetch
      // already under way (that button's) is not cancelled for this one.
      void queryClient.refetchQueries(
        {
          type: "active",
          predicate: (query) => query.state.status === "error" && query.state.data === undefined,
        },
        { cancelRefetch: false },
      );
    };
  }, [down, queryClient]);
  if (!down) return null;
  return (
    <div className="unreachable-banner" role="alert">
      Cannot reach the Logbook server — retrying…
    </div>
  );
}
