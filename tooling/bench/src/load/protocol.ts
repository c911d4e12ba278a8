/** What the parent asks the load process to do, and what it answers (over IPC). */
export interface LoadRequest {
  url: string;
  headers: Record<string, string>;
  /**
   * Fixed total rate in requests per second (open loop: sends are scheduled by the clock, not
   * by answers), or `"closed"`: each connection sends its next request as soon as the previous
   * one is answered (what a hook waiting for its answer does; measures the most a server takes).
   */
  rate: number | "closed";
  /** Most requests in flight at once (keep-alive connections). */
  connections: number;
  /** Seconds sent first at the same rate and not recorded (JIT, pool connections, caches). */
  warmupSec?: number;
  /** How long to send; the parent may stop it earlier (`LoadHandle.stop`). */
  durationSec: number;
  /** `hooks`: POST /hooks/claude-code with fresh hook payloads; `get`: cycle through `paths`. */
  scenario: { kind: "hooks"; sessions: number; payloadBytes: number; seed: number } | { kind: "get"; paths: string[] };
}

export interface LoadResult {
  requests: number;
  ok: number;
  failed: number;
  /**
   * GETs sent again once because the keep-alive socket they took had just been closed by the
   * server (ECONNRESET on a reused socket, before any answer): a client-side race, not a
   * failure of the server; counted so that a change in it shows.
   */
  resetsRetried: number;
  /** Requests per second actually completed. */
  achievedRate: number;
  /** Per-request latency in ms, from the moment a request was due to its complete answer. */
  latenciesMs: number[];
  /** For each latency, the index of its path in a \`get\` scenario (0 for hooks). */
  pathIndexes: number[];
  firstFailure?: string;
}
