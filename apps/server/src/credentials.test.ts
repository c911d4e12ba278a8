import { mkdtemp, open, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { credentialsPath, readCredentials, updateCredentialsUrl, writeCredentials } from "./credentials.js";

describe("credentials file", () => {
  let parent: string;
  let home: string;
  beforeEach(async () => {
    parent = await mkdtemp(join(tmpdir(), "logbook-credentials-"));
    home = join(parent, "home");
  });
  afterEach(() => rm(parent, { recursive: true, force: true }));

  it("is created owner-only in an owner-only folder, with nothing left beside it", async () => {
    const path = await writeCredentials(home, { apiKey: "lb_test_secret", url: "http://127.0.0.1:1" });
    expect(path).toBe(credentialsPath(home));
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(home)).mode & 0o777).toBe(0o700);
    expect(await readdir(home)).toEqual(["credentials"]);
    expect(await readCredentials(home)).toEqual({ apiKey: "lb_test_secret", url: "http://127.0.0.1:1" });
  });

  it("is replaced whole, never rewritten in place: a reader that opened it before reads the old one whole", async () => {
    await writeCredentials(home, { apiKey: "lb_test_secret", url: "http://127.0.0.1:1" });
    // A reader (the hook emitter, a harness) that opened the file just before the update.
    const reader = await open(credentialsPath(home), "r");
    try {
      expect(await updateCredentialsUrl(home, "http://127.0.0.1:2")).toBe(true);
      // Truncate-and-write would have emptied or changed what this reader sees.
      expect(JSON.parse(await reader.readFile("utf8"))).toEqual({
        apiKey: "lb_test_secret",
        url: "http://127.0.0.1:1",
      });
    } finally {
      await reader.close();
    }
    expect(await readCredentials(home)).toEqual({ apiKey: "lb_test_secret", url: "http://127.0.0.1:2" });
    expect((await stat(credentialsPath(home))).mode & 0o777).toBe(0o600);
    expect(await readdir(home)).toEqual(["credentials"]);
  });

  it("leaves one writer's file whole when two write at once", async () => {
    const written = Array.from({ length: 8 }, (_, i) => ({ apiKey: `lb_test_${i}`, url: `http://127.0.0.1:${i + 1}` }));
    await Promise.all(written.map((credentials) => writeCredentials(home, credentials)));
    expect(written).toContainEqual(await readCredentials(home));
    expect(await readdir(home)).toEqual(["credentials"]);
  });
});
