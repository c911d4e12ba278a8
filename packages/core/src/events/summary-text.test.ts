import { describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { firstWords, SUMMARY_MAX_CHARS, summaryText } from "./summary-text.js";

describe("summaryText", () => {
  const line = (type: string, content: unknown) => ({ type, message: { role: type, content } });

  it("gives a transcript line the first words of what was said", () => {
    expect(summaryText("transcript", "user", line("user", "  fix the\n\nflaky   test "))).toBe("fix the flaky test");
    expect(
      summaryText(
        "transcript",
        "assistant",
        line("assistant", [
          { type: "thinking", thinking: "hmm" },
          { type: "text", text: "Done: all green." },
        ]),
      ),
    ).toBe("Done: all green.");
    expect(summaryText("transcript", "summary", { type: "summary", summary: "Fixing CI" })).toBe("Fixing CI");
  });

  it("names the tool and its main input for tool calls and results", () => {
    const call = line("assistant", [
      { type: "tool_use", id: "t1", name: "Bash", input: { description: "list", command: "ls -la" } },
    ]);
    expect(summaryText("transcript", "assistant", call)).toBe("Bash: ls -la");
    const edit = line("assistant", [
      { type: "tool_use", name: "Edit", input: { file_path: "/src/a.ts", old_string: "x" } },
    ]);
    expect(summaryText("transcript", "assistant", edit)).toBe("Edit: /src/a.ts");
    const result = line("user", [{ type: "tool_result", tool_use_id: "t1", content: "total 8\ndrwx" }]);
    expect(summaryText("transcript", "user", result)).toBe("tool result: total 8 drwx");
    expect(summaryText("hook", "PreToolUse", { tool_name: "Grep", tool_input: { pattern: "TODO" } })).toBe(
      "Grep: TODO",
    );
    expect(summaryText("hook", "Stop", { last_assistant_message: "All done" })).toBe("All done");
  });

  it("says nothing for lines without words", () => {
    expect(summaryText("transcript", "file-history-snapshot", { type: "file-history-snapshot" })).toBeUndefined();
    expect(summaryText("transcript", "user", line("user", "   "))).toBeUndefined();
    expect(summaryText("api", "note", { text: "x" })).toBeUndefined();
  });

  it("cuts long text on a word boundary", () => {
    const long = "word ".repeat(100);
    const cut = expectDefined(firstWords(long));
    expect(cut.length).toBeLessThanOrEqual(160);
    expect(cut.endsWith("word…")).toBe(true);
  });
});

describe("summaryText for the kinds without a message or a tool call", () => {
  it("reads the transcript lines that carry words", () => {
    // Claude Code writes `aiTitle`; `title` is what older tools wrote.
    expect(summaryText("transcript", "ai-title", { type: "ai-title", aiTitle: "Fix month-end totals" })).toBe(
      "Fix month-end totals",
    );
    expect(summaryText("transcript", "ai-title", { type: "ai-title", title: "Older title" })).toBe("Older title");
    expect(summaryText("transcript", "custom-title", { type: "custom-title", customTitle: "release prep" })).toBe(
      "release prep",
    );
    expect(
      summaryText("transcript", "result", { type: "result", subtype: "success", result: "Fixed: all green." }),
    ).toBe("Fixed: all green.");
    expect(summaryText("transcript", "permission-mode", { type: "permission-mode", permissionMode: "plan" })).toBe(
      "plan",
    );
    const apiError = {
      type: "system",
      subtype: "api_error",
      level: "error",
      error: { status: 529, error: { type: "overloaded_error", message: "Overloaded" } },
      retryAttempt: 1,
      maxRetries: 10,
    };
    expect(summaryText("transcript", "system", apiError)).toBe(
      "API error 529 overloaded_error: Overloaded (retry 1 of 10)",
    );
    expect(summaryText("transcript", "system", { type: "system", subtype: "api_error" })).toBe("API error");
    expect(summaryText("transcript", "system", { type: "system", content: "Conversation compacted" })).toBe(
      "Conversation compacted",
    );
  });

  it("reads the hooks that carry words, the first non-empty field first", () => {
    const summary = "Fixing month-end totals: endOfMonth now works in UTC; one report test still expects local dates";
    expect(summaryText("hook", "PostCompact", { trigger: "auto", compact_summary: summary })).toBe(summary);
    // An empty instruction is no text: the trigger says what happened.
    expect(summaryText("hook", "PreCompact", { trigger: "auto", custom_instructions: "" })).toBe("auto");
    expect(summaryText("hook", "PreCompact", { trigger: "manual", custom_instructions: "keep the SQL" })).toBe(
      "keep the SQL",
    );
    expect(
      summaryText("hook", "TaskCreated", { subject: "Measure cache hit rate", description: "Add a counter" }),
    ).toBe("Measure cache hit rate");
    expect(summaryText("hook", "TaskCompleted", { description: "Add a counter" })).toBe("Add a counter");
    expect(
      summaryText("hook", "UserPromptExpansion", {
        prompt: "/review the cache",
        expanded_prompt: "Review the changes",
      }),
    ).toBe("/review the cache");
    expect(summaryText("hook", "CwdChanged", { old_cwd: "/a", new_cwd: "/a/b" })).toBe("/a/b");
    expect(summaryText("hook", "SessionStart", { source: "resume", model: "claude-opus-4-5" })).toBe("resume");
    expect(summaryText("hook", "PostModelSwitch", { from_model: "a", to_model: "claude-opus-4-5" })).toBe(
      "claude-opus-4-5",
    );
    expect(summaryText("hook", "SessionEnd", { reason: "prompt_input_exit" })).toBe("prompt_input_exit");
  });

  it("counts a batch of tool calls and names their tools in order", () => {
    const call = (tool_name: unknown) => ({ tool_name, tool_use_id: "toolu_01" });
    expect(summaryText("hook", "PostToolBatch", { tool_calls: [call("Read"), call("Grep")] })).toBe(
      "2 tool calls: Read, Grep",
    );
    expect(summaryText("hook", "PostToolBatch", { tool_calls: [call("Bash")] })).toBe("1 tool call: Bash");
    // Calls without a name still count; a batch without calls says nothing.
    expect(summaryText("hook", "PostToolBatch", { tool_calls: [call(7), "Read", call("")] })).toBe("3 tool calls");
    expect(summaryText("hook", "PostToolBatch", { tool_calls: [] })).toBeUndefined();
    expect(summaryText("hook", "PostToolBatch", { tool_calls: "Read" })).toBeUndefined();
    // A long batch is one timeline row, and only its head is read.
    const many = summaryText("hook", "PostToolBatch", { tool_calls: Array.from({ length: 5000 }, () => call("Read")) });
    expect(many?.startsWith("5000 tool calls: Read, Read")).toBe(true);
    expect(many?.endsWith("…")).toBe(true);
    expect(many?.length).toBeLessThanOrEqual(SUMMARY_MAX_CHARS);
  });

  it("finds nothing in values that are not text, in unknown kinds, or in kinds named like object members", () => {
    expect(summaryText("hook", "PostCompact", { compact_summary: 42, trigger: ["auto"] })).toBeUndefined();
    expect(summaryText("hook", "SomethingNew", { subject: "words" })).toBeUndefined();
    for (const name of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
      expect(summaryText("hook", name, { subject: "words", source: "x" })).toBeUndefined();
      expect(summaryText("transcript", name, { type: name, content: "words" })).toBeUndefined();
    }
    // Bookkeeping that repeats another event's words has no text of its own.
    expect(summaryText("transcript", "last-prompt", { type: "last-prompt", lastPrompt: "fix it" })).toBeUndefined();
    expect(summaryText("hook", "MessageDisplay", { delta: "Plan ready" })).toBeUndefined();
  });
});
