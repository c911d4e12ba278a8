/** The subagent tree of a session, with tokens and cost rolled up from every descendant. */
import { totalTokens } from "./sessions";
import type { Session, SessionTree } from "./types";

export interface TreeNode {
  session: Session;
  depth: number;
  /** Tokens of the session and everything below it. */
  tokens: number;
  costUsd: number;
  children: TreeNode[];
}

/** Builds the tree below `tree.session` (depth 0) from its parent-before-child descendant list. */
export function buildTree(tree: Pick<SessionTree, "session" | "descendants">): TreeNode {
  const root: TreeNode = { session: tree.session, depth: 0, tokens: 0, costUsd: 0, children: [] };
  const byId = new Map<string, TreeNode>([[tree.session.id, root]]);
  for (const { session, depth } of tree.descendants) {
    const node: TreeNode = { session, depth, tokens: 0, costUsd: 0, children: [] };
    byId.set(session.id, node);
    const parentId = session.manualParentSessionId ?? session.parentSessionId;
    (byId.get(parentId ?? "") ?? root).children.push(node);
  }
  const roll = (node: TreeNode): void => {
    node.tokens = totalTokens(node.session.tokens);
    node.costUsd = node.session.tokens.costUsd;
    for (const child of node.children) {
      roll(child);
      node.tokens += child.tokens;
      node.costUsd += child.costUsd;
    }
  };
  roll(root);
  return root;
}

/**
 * Whether a session that changed belongs in the tree shown: a member changed (its status,
 * tokens), or a new child of a member appeared. The tree is loaded again only then.
 */
export function changeTouchesTree(tree: Pick<SessionTree, "session" | "descendants">, changed: Session): boolean {
  const members = new Set([tree.session.id, ...tree.descendants.map((d) => d.session.id)]);
  if (members.has(changed.id)) return true;
  const parentId = changed.manualParentSessionId ?? changed.parentSessionId;
  return parentId !== null && members.has(parentId);
}
