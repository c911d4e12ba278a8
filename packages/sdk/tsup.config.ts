import { defineConfig } from "tsup";

/**
 * `dist/index.js`, ESM for Node 20+ and bundlers. Its dependencies stay imports (npm
 * installs them beside it). The declarations are built by rollup.dts.config.js.
 */
export default defineConfig({
  entry: { index: "src/index.ts" },
  format: ["esm"],
  platform: "neutral",
  target: "es2022",
  outDir: "dist",
  // Overwrite in place: tests of other packages may be loading the previous build right now.
  clean: false,
  sourcemap: true,
  dts: false,
});
