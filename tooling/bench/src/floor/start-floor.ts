import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";

import type { FloorMessage, FloorRequest } from "./server.js";

const SERVER = fileURLToPath(new URL("./server.ts", import.meta.url));
const TSX = import.meta.resolve("tsx");

export interface FloorServer {
  url: string;
  pid: number | undefined;
  stop(): Promise<void>;
}

/** Starts a floor server (see server.ts) in its own process; resolves once it listens. */
export async function startFloor(request: FloorRequest): Promise<FloorServer> {
  const child = fork(SERVER, [], { execArgv: ["--import", TSX], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    child.once("message", (message: FloorMessage) =>
      message.ok ? resolve(message.url) : reject(new Error(`floor server failed: ${message.error}`)),
    );
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`floor server exited (${code}) before listening`)));
    child.send(request);
  });
  return {
    url,
    pid: child.pid,
    stop: async () => {
      child.kill("SIGTERM");
      await exited;
    },
  };
}
