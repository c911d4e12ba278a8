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
    // are none to copy, and named imports still resolve through the prototype.
    build.onLoad({ filter: /.*/, namespace: "lazy-builtin" }, (args) => ({
      contents: `module.exports = Object.create(require(${JSON.stringify(`node:${args.path}`)}));`,
      loader: "js",
    }));
  },
};

/** The commands' file, beside the entry in `dist/`. */
const COMMANDS_FILE = "logbook-hook-commands.cjs";

/**
 * `main.ts` loads the commands with `import("./cli.js")`: in the bundle that stays an
 * `import()`, of the second file, so a hook run never reads or compiles the commands' code
 * (compiling the whole one-file bundle cost a hook run ~3–4 ms; docs/performance.md).
 */
const commandsInTheirOwnFile: Plugin = {
  name: "commands-in-their-own-file",
  setup(build) {
    build.onResolve({ filter: /^\.\/cli\.js$/ }, (args) =>
      args.importer.endsWith("main.ts") ? { path: `./${COMMANDS_FILE}`, external: true } : undefined,
    );
  },
};

/**
 * Two self-contained CommonJS files: `logbook-hook.cjs`, the entry (recording a hook event:
 * only our few hot-path modules and the built-ins they use), and the commands
 * (`logbook-hook-commands.cjs`), imported by the entry only when a command runs. Every
 * dependency is bundled into each. CommonJS rather than ESM because Node loads a CommonJS
 * entry measurably faster (no module graph linking, no loader hooks), and start-up time is
 * what a hook costs the agent on every event.
 */
export default defineConfig({
  entry: { "logbook-hook": "src/main.ts", "logbook-hook-commands": "src/cli.ts" },
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
  esbuildPlugins: [commandsInTheirOwnFile, lazyBuiltins],
  banner: {
    js: "#!/usr/bin/env node",
  },
});
