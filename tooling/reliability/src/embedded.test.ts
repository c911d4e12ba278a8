/** The server on its own embedded PostgreSQL: what another account can reach, and kill -9 of the postmaster. */
import { expect, it } from "vitest";

import { crashChecks, privacyChecks } from "./checks.js";
import { failedChecks } from "./lib/expect-checks.js";
import { runCrash, runPrivacy } from "./suites/embedded.js";

const root = process.getuid?.() === 0;

it("keeps the cluster private: modes, no TCP, a plain role, no old password; another account gets nothing", async () => {
  const report = await runPrivacy();
  // The second-account probe needs root (to create the account and act as it); an
  // ordinary run checks the rest, which is what keeps that account out.
  const checks = privacyChecks(report).filter((c) => root || !c.what.startsWith("a second OS account"));
  expect(failedChecks(checks), JSON.stringify(report)).toBe("");
});

it("survives kill -9 of the postmaster: 503 while down, back without a restart, nothing acknowledged lost", async () => {
  const report = await runCrash({ kills: 2, writers: 2 });
  expect(failedChecks(crashChecks(report)), JSON.stringify(report)).toBe("");
});
