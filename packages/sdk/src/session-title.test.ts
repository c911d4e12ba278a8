import { describe, expect, it } from "vitest";

import { readableTitle, sessionTitle } from "./session-title.js";

describe("readableTitle", () => {
  it("reads a slash command's markup as the command and its arguments", () => {
    const init =
      "<command-message>init is analyzing your codebase…</command-message>\n<command-name>/init</command-name>\n" +
      '<command-contents>{ "type": "text", "text": "Please analyze this codebase" }</command-contents>';
    expect(readableTitle(init)).toBe("/init");
    expect(readableTitle("<command-name>review</command-name><command-args> PR 12 </command-args>")).toBe(
      "/review PR 12",
    );
    expect(readableTitle("<command-name>/compact</command-name><command-args></command-args>")).toBe("/compact");
  });

  it("drops other tags and collapses white space; plain text stays as it is", () => {
    expect(readableTitle("<local-command-stdout>done</local-command-stdout>")).toBe("done");
    expect(readableTitle("Fix the  flaky\n test")).toBe("Fix the flaky test");
    expect(readableTitle("a < b and c > d")).toBe("a < b and c > d");
    expect(readableTitle("<b></b>")).toBe("");
  });
});

describe("sessionTitle", () => {
  it("the title, else the label, else the first prompt: the first with something to read", () => {
    expect(sessionTitle({ title: "Fix login", label: "x", initialQuery: "y" })).toBe("Fix login");
    expect(sessionTitle({ title: " ", label: null, initialQuery: "<command-name>/init</command-name>" })).toBe("/init");
    expect(sessionTitle({ title: null, label: null, initialQuery: null })).toBeNull();
  });

  it("a subagent with nothing to read is called by its agent type; a top-level session is not", () => {
    const silent = { title: null, label: null, initialQuery: null };
    const parentSessionId = "0193a5f0-0000-7000-8000-000000000001";
    expect(sessionTitle({ ...silent, parentSessionId, agentType: "Explore" })).toBe("(Explore subagent)");
    expect(sessionTitle({ ...silent, parentSessionId, agentType: "Explore", title: "Find it" })).toBe("Find it");
    expect(sessionTitle({ ...silent, parentSessionId: null, agentType: "claude-code" })).toBeNull();
    expect(sessionTitle({ ...silent, parentSessionId, agentType: " " })).toBeNull();
    expect(sessionTitle({ ...silent, parentSessionId, agentType: null })).toBeNull();
  });
});
