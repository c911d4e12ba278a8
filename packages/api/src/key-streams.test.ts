import { describe, expect, it } from "vitest";

import { KeyStreams } from "./key-streams.js";

describe("KeyStreams", () => {
  it("revoke cuts every stream of that key and no other, saying why", () => {
    const streams = new KeyStreams();
    const a1 = streams.open("a", null);
    const a2 = streams.open("a", null);
    const b = streams.open("b", null);
    expect(streams.size).toBe(3);
    expect(streams.revoke("a")).toBe(2);
    expect([a1.signal.aborted, a2.signal.aborted, b.signal.aborted]).toEqual([true, true, false]);
    expect(a1.cutReason()?.message).toMatch(/revoked/);
    expect(b.cutReason()).toBeNull();
    for (const s of [a1, a2, b]) s.release();
    expect(streams.size).toBe(0);
    expect(streams.keyIds()).toEqual([]);
  });

  it("a key already past its expiry is cut at once; a client leaving is not a cut", () => {
    const streams = new KeyStreams();
    const expired = streams.open("x", new Date(Date.now() - 1).toISOString());
    expect(expired.cutReason()?.message).toMatch(/expired/);
    const client = new AbortController();
    const leaving = streams.open("y", new Date(Date.now() + 3_600_000).toISOString(), client.signal);
    client.abort();
    expect(leaving.signal.aborted).toBe(true);
    expect(leaving.cutReason()).toBeNull();
    expired.release();
    leaving.release();
    expect(streams.size).toBe(0);
  });
});
