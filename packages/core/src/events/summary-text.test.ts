import { describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { firstWords, summaryText } from "./summary-text.js";

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
