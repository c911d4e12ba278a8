import { describe, expect, it } from "vitest";

import { parseConfig } from "./config.js";

describe("parseConfig", () => {
  it("applies the documented defaults", () => {
    const result = parseConfig({ LOGBOOK_HOME: "/tmp/lb" });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config).toMatchObject({
      host: "127.0.0.1",
      port: 4680,
      databaseUrl: undefined,
      home: "/tmp/lb",
      logLevel: "info",
      bodyLimitBytes: 8 * 1024 * 1024,
      apiKeyCacheMs: 5000,
      retention: {
        policy: { sessionMaxAgeDays: 365, eventMaxAgeDays: null, archiveInsteadOfDelete: false, batchSize: 5000 },
      },
      bootstrapKey: true,
      pool: { max: 20, acquireTimeoutMs: 30_000 },
      heapGrowthPercent: 20,
    });
  });

  it("takes a heap growth from 0 (V8's own rule) to 1000 percent, in whole numbers", () => {
    const growth = (value: string) => {
      const result = parseConfig({ HEAP_GROWTH_PERCENT: value });
      return result.ok ? result.config.heapGrowthPercent : result.problems;
    };
    expect(growth("0")).toBe(0);
    expect(growth("50")).toBe(50);
    expect(growth("1000")).toBe(1000);
    expect(growth("1001")).toEqual(['HEAP_GROWTH_PERCENT: must be at most 1000 (got "1001")']);
    expect(growth("-1")).toEqual(['HEAP_GROWTH_PERCENT: must be at least 0 (got "-1")']);
    expect(growth("12.5")).toEqual(['HEAP_GROWTH_PERCENT: must be a whole number (got "12.5")']);
  });

  it("reads every variable, and treats an empty one as unset", () => {
    const result = parseConfig({
      HOST: "0.0.0.0",
      PORT: "0",
      DATABASE_URL: "postgres://u:p@db:5432/logbook",
      LOG_LEVEL: "debug",
      BODY_LIMIT_BYTES: "2048",
      API_KEY_CACHE_MS: "0",
      RETENTION_SESSION_MAX_AGE_DAYS: "30",
      RETENTION_EVENT_MAX_AGE_DAYS: "7",
      RETENTION_ARCHIVE_INSTEAD_OF_DELETE: "yes",
      RETENTION_INTERVAL_MS: "0",
      JOB_RECOVERY_INTERVAL_MS: "1000",
      WEB_SESSION_PURGE_INTERVAL_MS: "0",
      BOOTSTRAP_KEY: "false",
      DATABASE_POOL_MAX: "",
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config).toMatchObject({
      host: "0.0.0.0",
      port: 0,
      databaseUrl: "postgres://u:p@db:5432/logbook",
      logLevel: "debug",
      bodyLimitBytes: 2048,
      apiKeyCacheMs: 0,
      retention: { policy: { sessionMaxAgeDays: 30, eventMaxAgeDays: 7, archiveInsteadOfDelete: true }, intervalMs: 0 },
      jobRecoveryIntervalMs: 1000,
      webSessionPurgeIntervalMs: 0,
      bootstrapKey: false,
      pool: { max: 20 },
    });
  });

  it("names each bad variable with what is wrong and what was given", () => {
    const result = parseConfig({
      PORT: "99999",
      LOG_LEVEL: "loud",
      BODY_LIMIT_BYTES: "lots",
      API_KEY_CACHE_MS: "-5",
      RETENTION_ARCHIVE_INSTEAD_OF_DELETE: "maybe",
      DATABASE_URL: "mysql://user:hunter2@x",
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toEqual(
      expect.arrayContaining([
        'PORT: must be at most 65535 (got "99999")',
        expect.stringMatching(/^LOG_LEVEL: must be one of .* \(got "loud"\)$/),
        'BODY_LIMIT_BYTES: must be a number (got "lots")',
        'API_KEY_CACHE_MS: must be at least 0 (got "-5")',
        'RETENTION_ARCHIVE_INSTEAD_OF_DELETE: must be true or false (got "maybe")',
        expect.stringMatching(/^DATABASE_URL: must be a postgres:\/\/ or postgresql:\/\/ URL/),
      ]),
    );
    expect(result.problems).toHaveLength(6);
    expect(result.problems.join("\n")).not.toContain("hunter2");
  });

  it("takes a read replica URL only beside DATABASE_URL, and never echoes it", () => {
    const both = parseConfig({
      DATABASE_URL: "postgres://u:p@db/logbook",
      DATABASE_READ_URL: "postgres://u:p@replica/logbook",
    });
    expect(both.ok && both.config.databaseReadUrl).toBe("postgres://u:p@replica/logbook");
    const alone = parseConfig({ DATABASE_READ_URL: "postgres://u:p@replica/logbook" });
    expect(alone).toEqual({
      ok: false,
      problems: [expect.stringMatching(/^DATABASE_READ_URL: a replica needs its primary/)],
    });
    const bad = parseConfig({ DATABASE_URL: "postgres://u:p@db/logbook", DATABASE_READ_URL: "http://u:hunter2@x" });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.problems.join("\n")).not.toContain("hunter2");
  });
});
