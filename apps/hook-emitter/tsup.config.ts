import { builtinModules } from "node:module";

import { defineConfig, type Options } from "tsup";

type Plugin = NonNullable<Options["esbuildPlugins"]>[number];

const builtins = new Set(builtinModules);

/**
 * Node built-ins become lazily evaluated `require()`s instead of ESM imports. An ESM import of
 * a built-in is hoisted to the top of the bundle (so `readline`, `fs/promises`… would load on
 * every hook run, though only the import command uses them) and builds a namespace of every
 * export, which evaluates lazy getters such as `fs.promises` or `crypto.webcrypto`. As a CJS
 * module inside the bundle, a built-in loads when the code that imports it is first evaluated:
 * for the commands, only when the command runs.
 */
const lazyBuiltins: Plugin = {
  name: "lazy-node-builtins",
  setup(build) {
    build.onResolve({ filter: /^(node:)?[a-z_/]+$/ }, (args) => {
      const name = args.path.replace(/^node:/, "");
      if (!builtins.has(name)) return undefined;
      if (args.namespace === "lazy-builtin") return { path: `node:${name}`, external: true };
      return { path: name, namespace: "lazy-builtin" };
    });
    // An empty object whose prototype is the module: the bundler's CJS-to-ESM glue copies
    // own properties at every import site (about a hundred for fs, on every run); here there
    // are none to copy, and named imports still resolve through the prototype. A module that
    // is itself a class (`events`, `stream`: bundled libraries extend it) is passed as it is.
    build.onLoad({ filter: /.*/, namespace: "lazy-builtin" }, (args) => ({
      contents: `const m = require(${JSON.stringify(`node:${args.path}`)});\nmodule.exports = typeof m === "function" ? m : Object.create(m);`,
      loader: "js",
    }));
  },
};

/**
 * Code the entry needs only sometimes, each built into a file of its own beside the entry in
 * `dist/`: the commands (`main.ts` imports `./cli.js`) and direct delivery (`record.ts`
 * imports `./direct.js`). The source's `import()` becomes a `require()` of that file, made
 * when the `import()` runs, so a hook run in the default mode reads and compiles neither
 * (compiling the whole one-file bundle cost a hook run ~3–4 ms; docs/performance.md). A
 * `require()`, not an `import()` kept as such: from CommonJS, `import()` starts Node's ESM
 * loader, ~6 ms more.
 */
const LAZY_FILES: Record<string, { importer: string; file: string }> = {
  "./cli.js": { importer: "main.ts", file: "logbook-hook-commands.cjs" },
  "./direct.js": { importer: "record.ts", file: "logbook-hook-direct.cjs" },
};

const lazyFiles: Plugin = {
  name: "lazy-files",
  setup(build) {
    build.onResolve({ filter: /^\.\/(cli|direct)\.js$/ }, (args) => {
      const lazy = LAZY_FILES[args.path];
      return lazy && args.importer.endsWith(lazy.importer) ? { path: lazy.file, namespace: "lazy-file" } : undefined;
    });
    build.onResolve({ filter: /.*/, namespace: "lazy-file" }, (args) => ({ path: args.path, external: true }));
    build.onLoad({ filter: /.*/, namespace: "lazy-file" }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(`./${args.path}`)});`,
      loader: "js",
    }));
  },
};

/**
 * Three self-contained CommonJS files: `logbook-hook.cjs`, the entry (recording a hook event:
 * only our few hot-path modules and the built-ins they use), the commands
 * (`logbook-hook-commands.cjs`) and direct delivery (`logbook-hook-direct.cjs`), each imported
 * by the entry only when needed. Every dependency is bundled into each. CommonJS rather than
 * ESM because Node loads a CommonJS entry measurably faster (no module graph linking, no
 * loader hooks), and start-up time is what a hook costs the agent on every event.
 */
export default defineConfig({
  entry: {
    "logbook-hook": "src/main.ts",
    "logbook-hook-commands": "src/cli.ts",
    "logbook-hook-direct": "src/direct.ts",
  },
  format: ["cjs"],
  platform: "node",
  target: "node20",
  bundle: true,
  splitting: false,
  noExternal: [/.*/],
  clean: true,
  minify: false,
  sourcemap: false,
  dts: false,
  removeNodeProtocol: false,
  esbuildPlugins: [lazyFiles, lazyBuiltins],
  banner: {
    js: "#!/usr/bin/env node",
  },
});
