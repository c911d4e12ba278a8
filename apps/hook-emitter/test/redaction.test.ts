import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { tablesContaining } from "@logbook/db/testing";
import { SECRET_FIELD_SAMPLES, SECRET_SAMPLES } from "@logbook/fixtures";
import { describe, expect, it } from "vitest";

import { e2e, emitterEnv, rowsOf, startE2E } from "./e2e-harness.js";
import { runBinary, tempDir } from "./helpers.js";

/**
 * Redaction before storage (docs/redaction.md) on the ways in that the emitter drives: a hook
 * run by the real binary and a transcript imported by it. Every planted secret shape is
 * then looked for in every table of the real server's database, as text.
 */
startE2E();

const ALL_TEXT = SECRET_SAMPLES.map((s) => s.text).join("\n");
const FIELDS = Object.fromEntries(SECRET_FIELD_SAMPLES.map((f) => [f.key, f.secret]));
const SECRETS = [...SECRET_SAMPLES.map((s) => s.secret), ...SECRET_FIELD_SAMPLES.map((f) => f.secret)];

describe("no secret reaches a table", () => {
  it("from a hook and an imported transcript, each event counting what it lost", async () => {
    const home = tempDir("e2e-redaction");
    const hook = await runBinary([], {
      stdin: JSON.stringify({
        session_id: "redaction-hook",
        hook_event_name: "PreToolUse",
        tool_name: "Bash",
        tool_input: { command: ALL_TEXT, env: FIELDS },
      }),
      env: emitterEnv(home),
    });
    expect(hook).toMatchObject({ code: 0, stdout: "", stderr: "" });
    expect((await runBinary(["flush"], { env: emitterEnv(home) })).code).toBe(0);

    const session = "5b0c2f4e-7d1a-4c3b-9e8f-a1b2c3d4e5f6";
    const dir = join(tempDir("e2e-redaction-import"), "-home-me-app");
    mkdirSync(dir, { recursive: true });
    const line = (n: number, rest: Record<string, unknown>) => ({
      uuid: `5b0c2f4e-0000-4000-8000-00000000000${n}`,
      parentUuid: n === 1 ? null : `5b0c2f4e-0000-4000-8000-00000000000${n - 1}`,
      sessionId: session,
      timestamp: `2026-11-30T10:00:0${n}Z`,
      cwd: "/home/me/app",
      ...rest,
    });
    const lines = [
      line(1, { type: "user", message: { role: "user", content: ALL_TEXT } }),
      line(2, {
        type: "assistant",
        message: {
          id: "msg_redaction",
          role: "assistant",
          model: "claude-sonnet-4-5",
          content: [
            { type: "text", text: ALL_TEXT },
            { type: "tool_use", id: "toolu_redaction", name: "Bash", input: { command: ALL_TEXT, ...FIELDS } },
          ],
          usage: { input_tokens: 3, output_tokens: 2 },
        },
      }),
      line(3, {
        type: "user",
        message: {
          role: "user",
          content: [{ type: "tool_result", tool_use_id: "toolu_redaction", content: ALL_TEXT }],
        },
      }),
    ];
    writeFileSync(join(dir, `${session}.jsonl`), lines.map((l) => JSON.stringify(l)).join("\n"), { mode: 0o600 });
    const imported = await runBinary(["import", dir, "--json"], { env: emitterEnv(home) });
    expect(imported.stderr).toBe("");
    expect(JSON.parse(imported.stdout)).toMatchObject({ accepted: 3, errors: 0 });

    expect(await tablesContaining(e2e.db.knex, SECRETS)).toEqual([]);

    const counts = await rowsOf<{ external_id: string; redactions: number; events: string }>(
      `SELECT s.external_id, s.redactions, sum(e.redactions)::text AS events
         FROM sessions s JOIN events e ON e.session_id = s.id
        WHERE s.external_id IN ('redaction-hook', ?) GROUP BY s.id ORDER BY s.external_id`,
      [session],
    );
    const perText = SECRET_SAMPLES.length;
    const fields = SECRET_FIELD_SAMPLES.length;
    expect(counts).toEqual([
      { external_id: session, redactions: 4 * perText + fields, events: String(4 * perText + fields) },
      { external_id: "redaction-hook", redactions: perText + fields, events: String(perText + fields) },
    ]);
  }, 300_000);
});
