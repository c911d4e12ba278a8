import { describe, expect, it } from "vitest";

import { buildTree, changeTouchesTree } from "./tree";
import type { Session } from "./types";

const tokens = (costUsd: number, inputTokens: number) => ({
  inputTokens,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheCreationTokens: 0,
  costUsd,
  unpricedMessages: 0,
});
const s = (id: string, parentSessionId: string | null, cost: number, input: number) =>
  ({ id, parentSessionId, manualParentSessionId: null, tokens: tokens(cost, input) }) as unknown as Session;

describe("buildTree", () => {
  it("nests subagents under their parents and rolls tokens and cost up to every ancestor", () => {
    const root = buildTree({
      session: s("root", null, 1, 100),
      descendants: [
        { session: s("a", "root", 0.5, 50), depth: 1 },
        { session: s("a1", "a", 0.25, 25), depth: 2 },
        { session: s("b", "root", 2, 10), depth: 1 },
      ],
    });
    expect(root.children.map((c) => c.session.id)).toEqual(["a", "b"]);
    expect(root.children[0]?.children.map((c) => c.session.id)).toEqual(["a1"]);
    expect(root.children[0]).toMatchObject({ tokens: 75, costUsd: 0.75 });
    expect(root).toMatchObject({ tokens: 185, costUsd: 3.75 });
  });
});

describe("changeTouchesTree", () => {
  it("holds for a member's change and a member's new child, not for other sessions", () => {
    const tree = { session: s("root", null, 0, 0), descendants: [{ session: s("a", "root", 0, 0), depth: 1 }] };
    expect(changeTouchesTree(tree, s("root", null, 1, 1))).toBe(true);
    expect(changeTouchesTree(tree, s("a", "root", 1, 1))).toBe(true);
    expect(changeTouchesTree(tree, s("a2", "a", 0, 0))).toBe(true);
    expect(changeTouchesTree(tree, s("other", null, 0, 0))).toBe(false);
    expect(changeTouchesTree(tree, s("stranger", "elsewhere", 0, 0))).toBe(false);
  });
});
