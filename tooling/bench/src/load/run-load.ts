import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";

import type { LoadRequest, LoadResult } from "./protocol.js";

const WORKER = fileURLToPath(new URL("./worker.ts", import.meta.url));
const TSX = import.meta.resolve("tsx");

export interface LoadHandle {
  result: Promise<LoadResult>;
  /** Stops sending new requests; `result` resolves once those in flight are answered. */
  stop(): void;
}

/** Starts one fixed-rate load in a separate process (see worker.ts). */
export function startLoad(request: LoadRequest): LoadHandle {
  const child = fork(WORKER, [], { execArgv: ["--import", TSX], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const result = new Promise<LoadResult>((resolve, reject) => {
    let answered = false;
    child.once("message", (message: { ok: true; result: LoadResult } | { ok: false; error: string }) => {
      answered = true;
      if (message.ok) resolve(message.result);
      else reject(new Error(`load process failed: ${message.error}`));
    });
    child.once("error", reject);
    child.once("exit", (code) => {
      if (!answered) reject(new Error(`load process exited (${code}) without an answer`));
    });
  });
  child.send(request);
  return {
    result,
    stop: () => {
      if (child.connected) child.send("stop");
    },
  };
}

export const runLoad = (request: LoadRequest): Promise<LoadResult> => startLoad(request).result;
