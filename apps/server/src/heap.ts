import v8 from "node:v8";

/**
 * V8's command-line flag that sets how far the old generation may grow past what the last full
 * collection kept before the next one runs: a factor of 1 + percent / 100.
 */
export function heapGrowthFlag(percent: number): string {
  if (!Number.isInteger(percent) || percent < 1) {
    throw new RangeError(`heap growth must be a whole number of percent, at least 1 (got ${percent})`);
  }
  return `--heap-growing-percent=${percent}`;
}

/**
 * Bounds how much garbage the server keeps between full collections; 0 leaves V8's own rule.
 *
 * V8 lets the old generation grow up to 4× what survived the last full collection when the
 * heap limit is large (4 GB here), so under sustained batch ingest a ~30 MB live heap held
 * 200–230 MB of resident memory, most of it dead. A fixed growth bounds that without a heap
 * limit (`--max-old-space-size`), which would end the process when a large live heap (an
 * export) passes it. V8 reads the flag each time it sets the next collection's threshold, so
 * setting it once at start, before the first requests, governs the whole run; `node` does not
 * accept this flag in `NODE_OPTIONS`, hence here.
 */
export function limitHeapGrowth(percent: number): void {
  if (percent === 0) return;
  v8.setFlagsFromString(heapGrowthFlag(percent));
}
