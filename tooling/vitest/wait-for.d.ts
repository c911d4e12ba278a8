/**
 * Polls `probe` until `accept` takes its value (default: truthy) and returns it; after
 * `deadlineMs` fails naming `what` and the last value seen.
 */
export declare function waitFor<T>(
  what: string,
  probe: () => T | Promise<T>,
  options: {
    /** Required: how long before the wait fails (generous: a bound, not a timing assertion). */
    deadlineMs: number;
    /** Between probes. @default 50 */
    everyMs?: number;
    /** When the wait is over. @default Boolean */
    accept?: (value: T) => boolean;
  },
): Promise<T>;
