import { AppError } from "@logbook/core";

/** setTimeout's longest delay (about 24.8 days); a later expiry re-arms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** One open subscription, bound to the key that opened it. */
export interface KeyBoundStream {
  /** Aborts when the client goes, the key is revoked, or the key expires. */
  signal: AbortSignal;
  /** Why the server cut the stream (revoked or expired key), or null. */
  cutReason(): AppError | null;
  /** The stream ended: stop tracking it. */
  release(): void;
}

interface Entry {
  controller: AbortController;
  timer: NodeJS.Timeout | null;
}

/**
 * The live streams (SSE subscriptions) open on this server, by API key, so that a key
 * that stops being valid stops receiving: `revoke` (called for every revocation notice
 * on the live bus, from any process) and each key's expiry time cut its streams with an
 * UNAUTHORIZED error the client sees. Verification only happens when a stream opens;
 * without this, a revoked key kept its stream and every new event.
 */
export class KeyStreams {
  private readonly byKey = new Map<string, Set<Entry>>();

  open(keyId: string, expiresAt: string | null, clientSignal?: AbortSignal): KeyBoundStream {
    const controller = new AbortController();
    const entry: Entry = { controller, timer: null };
    const onClientAbort = () => controller.abort(clientSignal?.reason);
    if (clientSignal?.aborted) onClientAbort();
    else clientSignal?.addEventListener("abort", onClientAbort, { once: true });

    const arm = (at: number) => {
      const wait = at - Date.now();
      if (wait <= 0) {
        controller.abort(new AppError("UNAUTHORIZED", "the API key expired; this stream is closed"));
        return;
      }
      entry.timer = setTimeout(() => arm(at), Math.min(wait, MAX_TIMER_MS));
      entry.timer.unref();
    };
    if (expiresAt !== null) arm(Date.parse(expiresAt));

    let entries = this.byKey.get(keyId);
    if (!entries) this.byKey.set(keyId, (entries = new Set()));
    entries.add(entry);
    const release = () => {
      if (entry.timer) clearTimeout(entry.timer);
      clientSignal?.removeEventListener("abort", onClientAbort);
      entries.delete(entry);
      if (entries.size === 0 && this.byKey.get(keyId) === entries) this.byKey.delete(keyId);
    };
    return {
      signal: controller.signal,
      cutReason: () => {
        const reason: unknown = controller.signal.reason;
        return controller.signal.aborted && reason instanceof AppError ? reason : null;
      },
      release,
    };
  }

  /** Cuts every stream of `keyId`; returns how many there were. */
  revoke(keyId: string): number {
    const entries = this.byKey.get(keyId);
    if (!entries) return 0;
    for (const entry of entries) {
      entry.controller.abort(new AppError("UNAUTHORIZED", "the API key was revoked; this stream is closed"));
    }
    return entries.size;
  }

  /** The keys that hold open streams. */
  keyIds(): string[] {
    return [...this.byKey.keys()];
  }

  /** Open streams, all keys together. */
  get size(): number {
    let n = 0;
    for (const entries of this.byKey.values()) n += entries.size;
    return n;
  }
}
