import type { EmitterConfig } from "./config.js";

/**
 * Starts `logbook-hook <args>` detached from the hook (own session, no stdio, working directory
 * the spool), so Claude Code neither waits for it nor kills it with the hook.
 */
export async function startInBackground(
  config: EmitterConfig,
  args: string[],
  log: (level: "info" | "warn" | "error", message: string) => void,
): Promise<void> {
  if (!config.mayStartProcesses) return;
  const script = process.argv[1];
  if (script === undefined) return;
  const what = `logbook-hook ${args[0] ?? ""}`;
  try {
    const { spawn } = await import("node:child_process");
    const child = spawn(process.execPath, [script, ...args], {
      detached: true,
      stdio: "ignore",
      windowsHide: true,
      cwd: config.spoolDir,
    });
    child.on("error", (error) => log("warn", `could not start ${what} in the background: ${error.message}`));
    child.unref();
  } catch (error) {
    log("warn", `could not start ${what} in the background: ${(error as Error).message}`);
  }
}
