import { defineConfig } from "tsup";

/**
 * `dist/index.js` (ESM) and `dist/index.d.ts`, what the published package and every
 * workspace package that imports `@logbook/contracts` load. zod stays a dependency.
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
  dts: true,
});
