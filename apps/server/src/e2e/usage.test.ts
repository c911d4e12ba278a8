/**
 * Cost and usage reports end to end: transcript lines ingested through the real server,
 * priced on the way in, reported through the SDK; the price file setting (a bad file stops
 * the start, or makes `usage.reprice` a 400 that changes nothing); reprice needs admin.
 */
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type { IngestEvent } from "@logbook/contracts";
import { LogbookError } from "@logbook/sdk";
import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { failure, startHarness, startRefused, type Harness } from "./harness.js";

let h: Harness;
let pricesFile: string;
const table = (version: string, input: number) => ({
  version,
  date: "2026-12-01",
  source: "e2e test",
  models: [{ id: "acme-coder", input, output: 0, cacheWrite5m: 0, cacheWrite1h: 0, cacheRead: 0 }],
});

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), "logbook-usage-e2e-"));
  pricesFile = join(dir, "prices.json");
  await writeFile(pricesFile, JSON.stringify(table("e2e-1", 10)), { mode: 0o600 });
  h = await startHarness({ env: { LOGBOOK_PRICES_FILE: pricesFile } });
});
afterAll(() => h?.stop());

function line(session: string, at: string, id: string, model: string, input: number, parent?: string) {
  return {
    id: uuidv7(),
    externalSessionId: session,
    ...(parent ? { parentExternalSessionId: parent } : {}),
    eventType: "assistant",
    source: "transcript" as const,
    occurredAt: at,
    machineId: "laptop",
    payload: {
      type: "assistant",
      timestamp: at,
      message: { id, model, role: "assistant", content: [], usage: { input_tokens: input, output_tokens: 0 } },
    },
  } satisfies IngestEvent;
}

describe("usage", () => {
  it("prices ingested responses and reports them by day, model and machine through the SDK", async () => {
    await h.client.events.ingest.mutate({
      events: [
        line("usage-root", "2026-05-01T22:30:00Z", "m1", "claude-sonnet-4-20250514", 100_000),
        line("usage-root", "2026-05-01T22:30:00Z", "m1", "claude-sonnet-4-20250514", 100_000),
        line("usage-sub", "2026-05-02T08:00:00Z", "m2", "acme-coder", 100_000, "usage-root"),
        line("usage-sub", "2026-05-02T09:00:00Z", "m3", "mystery-1", 5),
      ],
    });
    const root = await h.client.sessions.get.query({ externalId: "usage-root" });
    expect(root.tokens).toMatchObject({ costUsd: 0.3, unpricedMessages: 0 });
    const tree = await h.client.sessions.tree.query({ id: root.id });
    expect(tree.totalTokens).toMatchObject({ costUsd: 1.3, unpricedMessages: 1 });

    const daily = await h.client.usage.report.query({ groupBy: "day", timeZone: "Europe/Berlin" });
    expect(daily.rows.map((r) => [r.key, r.costUsd, r.unpricedMessages])).toEqual([["2026-05-02", 1.3, 1]]);
    const utc = await h.client.usage.report.query({ groupBy: "day" });
    expect(utc.rows.map((r) => [r.key, r.costUsd])).toEqual([
      ["2026-05-01", 0.3],
      ["2026-05-02", 1],
    ]);
    const byModel = await h.client.usage.report.query({ groupBy: "model" });
    expect(byModel.rows.map((r) => [r.key, r.costUsd, r.unpricedMessages])).toEqual([
      ["acme-coder", 1, 0],
      ["claude-sonnet-4-20250514", 0.3, 0],
      ["mystery-1", 0, 1],
    ]);
    const byMachine = await h.client.usage.report.query({ groupBy: "machine" });
    expect(byMachine.rows).toMatchObject([{ key: "laptop", messages: 3, sessions: 2, inputTokens: 200_005 }]);
    expect(byMachine.priceTableVersion).toBe("e2e-1+builtin.2026-12-01.1");
  });

  it("answers a bad time zone with a 400 that names it", async () => {
    const error = await failure(h.client.usage.report.query({ groupBy: "week", timeZone: "Europe/Atlantis" }));
    expect(error).toBeInstanceOf(LogbookError);
    expect(error).toMatchObject({ httpStatus: 400 });
    expect((error as Error).message).toMatch(/IANA time zone/);
  });

  it("reprices after the price file changes; a broken file is a 400 and nothing changes; admin only", async () => {
    expect(await failure(h.client.usage.reprice.mutate())).toMatchObject({ httpStatus: 403 });

    await writeFile(pricesFile, JSON.stringify(table("e2e-2", 20)));
    const result = await h.admin.usage.reprice.mutate();
    expect(result).toMatchObject({ priceTableVersion: "e2e-2+builtin.2026-12-01.1", unpricedModels: ["mystery-1"] });
    expect((await h.client.sessions.get.query({ externalId: "usage-sub" })).tokens.costUsd).toBe(2);
    expect((await h.client.usage.prices.query()).models[0]).toMatchObject({ id: "acme-coder", input: 20 });

    await writeFile(pricesFile, JSON.stringify({ ...table("e2e-3", 30), date: "yesterday" }));
    const error = await failure(h.admin.usage.reprice.mutate());
    expect(error).toMatchObject({ httpStatus: 400 });
    expect((error as Error).message).toMatch(/not a valid price table: date: must be a date/);
    expect((await h.client.sessions.get.query({ externalId: "usage-sub" })).tokens.costUsd).toBe(2);
    expect((await h.client.usage.prices.query()).version).toBe("e2e-2+builtin.2026-12-01.1");
  });

  it("will not start with a price file that does not parse, and says why", async () => {
    const bad = join(await mkdtemp(join(tmpdir(), "logbook-bad-prices-")), "prices.json");
    await writeFile(bad, JSON.stringify({ version: "x", date: "2026-12-01", source: "x", models: [{ id: "a" }] }));
    const result = await startRefused({ PATH: process.env.PATH, DATABASE_URL: h.db.url, LOGBOOK_PRICES_FILE: bad });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/LOGBOOK_PRICES_FILE: price file .* is not a valid price table: models\.0\.input/);
  });
});
