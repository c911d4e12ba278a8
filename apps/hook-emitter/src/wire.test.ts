import {
  EVENT_LEVELS as CONTRACT_LEVELS,
  LIMITS as CONTRACT_LIMITS,
  subagentExternalId as contractsSubagentExternalId,
} from "@logbook/contracts";
import { describe, expect, it } from "vitest";

import { checkIngestEvent, EVENT_LEVELS, LIMITS, subagentExternalId } from "./wire.js";

/** The emitter's run-time copies of contract rules must stay equal to the contracts. */
describe("wire rules match @logbook/contracts", () => {
  it("limits", () => {
    for (const key of Object.keys(LIMITS) as Array<keyof typeof LIMITS>) expect(LIMITS[key]).toBe(CONTRACT_LIMITS[key]);
  });

  it("event levels", () => {
    expect([...EVENT_LEVELS]).toEqual([...CONTRACT_LEVELS]);
  });

  it("child session ids", () => {
    expect(subagentExternalId("abc", "a881341")).toBe(contractsSubagentExternalId("abc", "a881341"));
  });

  it("checkIngestEvent catches what the server would refuse", () => {
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 70; i++) deep = { deep };
    expect(checkIngestEvent({ eventType: "user", externalSessionId: "s", payload: deep })).toMatch(/nested deeper/);
    expect(checkIngestEvent({ eventType: "user", externalSessionId: "x".repeat(256), payload: {} })).toMatch(
      /externalSessionId/,
    );
    expect(checkIngestEvent({ eventType: "user", externalSessionId: "s", payload: { a: 1 } })).toBeUndefined();
  });
});
