import { defineConfig } from "tsup";

/**
 * One self-contained ESM file, `dist/logbook.js`, run with plain `node`: the SDK, tRPC's
 * client and every library are bundled in, so the published package has no dependencies to
 * install. Some bundled libraries are CommonJS and `require()` Node built-ins; an ESM bundle
 * has no `require`, so the banner makes one.
 */
export default defineConfig({
  entry: { logbook: "src/main.ts" },
  format: ["esm"],
  platform: "node",
  target: "node20",
  outDir: "dist",
  bundle: true,
  splitting: false,
  noExternal: [/.*/],
  // Overwrite in place: another test file may be running the previous build right now.
  clean: false,
  sourcemap: false,
  dts: false,
  banner: {
    js: [
      "#!/usr/bin/env node",
      'import { createRequire as __logbookCreateRequire } from "node:module";',
      "const require = __logbookCreateRequire(import.meta.url);",
    ].join("\n"),
  },
});
