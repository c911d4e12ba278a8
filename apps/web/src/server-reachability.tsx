/**
 * Whether the server answers. Every API call goes through `fetchNoticingUnreachable` and every
 * live stream (Server-Sent Events) through `EventSourceNoticingUnreachable`: an answer (any HTTP
 * status, a stream opened) says the server is there. A failure with no answer is only a
 * suspicion: one dropped request (a flaky network, a proxy closing a connection, a stream the
 * server ended) looks the same as a server that is down. So a failure asks `/health` once, and
 * only when that finds no server either, and nothing else has answered meanwhile, does a banner
 * say so. While it shows, `/health` is asked every POLL_MS; the first answer from anywhere takes
 * it away and loads again the queries that failed meanwhile with nothing to show (their own
 * retries stop after a few tries).
 */
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useSyncExternalStore } from "react";

/** How often `/health` is asked while the server does not answer. */
const POLL_MS = 2_000;
/** A probe with no answer by then counts as none (a network that swallows packets never fails). */
const PROBE_TIMEOUT_MS = 5_000;

let unreachable = false;
/** Answers seen so far: a probe that fails after a newer answer came does not raise the banner. */
let answers = 0;
/** The probe under way, if any: many failures at once (a batch, streams) ask `/health` once. */
let probing: Promise<void> | null = null;
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

function noteAnswer(): void {
  answers += 1;
  setUnreachable(false);
}

/** Whether `/health` answers (any status: it is the server's word); an answer is noted. */
async function probe(): Promise<boolean> {
  try {
    await fetch("/health", { cache: "no-store", signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    noteAnswer();
    return true;
  } catch {
    return false;
  }
}

/** A request or a stream got no answer: the banner shows if `/health` gets none either. */
function noteFailure(): void {
  if (unreachable || probing !== null) return;
  const before = answers;
  probing = probe()
    .then((answered) => {
      if (!answered && answers === before) setUnreachable(true);
    })
    .finally(() => {
      probing = null;
    });
}

/**
 * `fetch`, noting whether the server answered. Any HTTP answer counts (an error status is
 * the server's word, shown where it was asked); a call the page aborted itself does not.
 */
export async function fetchNoticingUnreachable(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  try {
    const response = await fetch(input, init);
    noteAnswer();
    return response;
  } catch (error) {
    if (!init?.signal?.aborted) noteFailure();
    throw error;
  }
}

/**
 * The browser's `EventSource`, noting whether the server answered: a stream that opens (again,
 * after the browser's own reconnect) is an answer; an error (the connection dropped or was
 * refused) is a failure to check. Without it a page that only listens (a list left open) would
 * never say that the server went away.
 */
export class EventSourceNoticingUnreachable extends EventSource {
  constructor(url: string | URL, init?: EventSourceInit) {
    super(url, init);
    this.addEventListener("open", noteAnswer);
    this.addEventListener("error", noteFailure);
  }
}

/** Non-blocking: the page stays as it is under it (what was loaded is still readable). */
export function ServerUnreachableBanner() {
  const down = useSyncExternalStore(subscribe, () => unreachable);
  const queryClient = useQueryClient();
  useEffect(() => {
    if (!down) return;
    const timer = setInterval(() => void probe(), POLL_MS);
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
