/**
 * `dist/index.d.ts`: the SDK's declarations in one file, with the router's types from
 * @logbook/api (and the few of @logbook/core they name) copied in, so a client needs neither
 * package. Everything else stays an import of a published package (@logbook/contracts,
 * @trpc/*, eventsource). `pack.test.ts` checks that no workspace-only package is named.
 */
import { realpathSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { dts } from "rollup-plugin-dts";

const require = createRequire(import.meta.url);
const INLINE = /^@logbook\/(api|core|db)$/;

export default {
  input: "src/index.ts",
  output: { file: "dist/index.d.ts", format: "es" },
  external: (id) => !INLINE.test(id) && !/^[./]/.test(id),
  plugins: [
    {
      // The packages' real paths, not their node_modules links: TypeScript then names their
      // own dependencies (@trpc/server) portably, as any package's.
      name: "workspace-source",
      resolveId(source, importer) {
        if (!INLINE.test(source)) return null;
        return realpathSync(require.resolve(source, { paths: [dirname(importer)] }));
      },
    },
    dts({ tsconfig: "tsconfig.json", respectExternal: true }),
  ],
};
