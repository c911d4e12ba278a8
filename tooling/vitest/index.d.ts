import type { ViteUserConfig } from "vitest/config";

export declare function logbookVitestConfig(options?: {
  withDatabase?: boolean;
  timeoutMs?: number;
  corpus?: boolean;
}): ViteUserConfig;
