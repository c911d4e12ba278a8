import { spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import { createServer as createTcpServer, type Socket } from "node:net";
import { join } from "node:path";
import { readdirSync } from "node:fs";

import { afterEach, describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { tempDir } from "../test/helpers.js";
import { httpRequest, NetworkError, parseResponse } from "./http.js";
import { flushSpool } from "./flush.js";
import { envelopeText, listSpool, spoolEvent } from "./spool.js";
import { uuidv7 } from "./ids.js";

/** The hand-written HTTP client, against local stand-in servers. */

let server: Server | undefined;
let sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets) socket.destroy();
  sockets = [];
  if (server) {
    server.closeAllConnections();
    await new Promise((done) => expectDefined(server).close(done));
    server = undefined;
  }
});

async function listen(s: Server): Promise<string> {
  server = s;
  await new Promise<void>((done) => s.listen(0, "127.0.0.1", done));
  return `http://127.0.0.1:${(s.address() as { port: number }).port}`;
}

describe("parseResponse", () => {
  it("reads content-length, chunked and close-delimited bodies, skipping 100 Continue", () => {
    expect(parseResponse(Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"), false)).toEqual({
      status: 200,
      headers: { "content-length": "2" },
      body: "{}",
    });
    expect(parseResponse(Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n{}"), false)).toBeUndefined();
    expect(
      parseResponse(
        Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n3\r\nabc\r\n0\r\n\r\n"),
        false,
      )?.body,
    ).toBe("{}abc");
    expect(
      parseResponse(Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n"), false),
    ).toBeUndefined();
    expect(parseResponse(Buffer.from("HTTP/1.0 500 Oops\r\n\r\nbroken"), true)).toMatchObject({
      status: 500,
      body: "broken",
    });
    expect(
      parseResponse(
        Buffer.from("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 413 Too Large\r\nContent-Length: 0\r\n\r\n"),
        false,
      )?.status,
    ).toBe(413);
  });
});

describe("httpRequest", () => {
  it("a large body refused up front (413, connection closed unread) is read as 413, every time", async () => {
    // In another process, as a real server is: its close with our body unread resets the
    // connection, which can destroy the 413 before we read it unless the body waits (Expect).
    const child = spawn(
      process.execPath,
      [
        "-e",
        `const s = require("node:http").createServer((req, res) => {
           if (Number(req.headers["content-length"]) > 1000) {
             res.writeHead(413, { Connection: "close" }); res.end('{"error":{"message":"too large"}}'); return;
           }
           req.resume(); req.on("end", () => res.end("{}"));
         });
         s.listen(0, "127.0.0.1", () => console.log(s.address().port));`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    try {
      const port = await new Promise<string>((done) =>
        child.stdout.once("data", (chunk: Buffer) => done(chunk.toString().trim())),
      );
      const url = `http://127.0.0.1:${port}`;
      const body = Buffer.alloc(20 * 1024 * 1024, 0x61);
      const results = await Promise.all(
        Array.from({ length: 10 }, () =>
          httpRequest("POST", `${url}/x`, { body, timeoutMs: 30_000 }).then(
            (r) => r.status,
            (e: Error) => e.message,
          ),
        ),
      );
      expect(results).toEqual(Array(10).fill(413));
      expect((await httpRequest("POST", `${url}/x`, { body: "{}", timeoutMs: 5_000 })).status).toBe(200);
    } finally {
      child.kill();
    }
  });

  it("a large body the server accepts is sent after 100 Continue", async () => {
    let received = 0;
    const url = await listen(
      createServer((req, res) => {
        req.on("data", (chunk: Buffer) => (received += chunk.length));
        req.on("end", () => res.end("{}"));
      }),
    );
    const response = await httpRequest("POST", `${url}/x`, {
      body: Buffer.alloc(3 * 1024 * 1024, 0x62),
      timeoutMs: 20_000,
    });
    expect(response.status).toBe(200);
    expect(received).toBe(3 * 1024 * 1024);
  });

  it("refused connections and silence are NetworkErrors", async () => {
    const silent = createTcpServer((socket) => sockets.push(socket));
    await new Promise<void>((done) => silent.listen(0, "127.0.0.1", done));
    const port = (silent.address() as { port: number }).port;
    await expect(httpRequest("GET", `http://127.0.0.1:${port}/`, { timeoutMs: 200 })).rejects.toMatchObject({
      code: "ETIMEDOUT",
    });
    for (const socket of sockets) socket.destroy();
    await new Promise((done) => silent.close(done));
    await expect(httpRequest("GET", `http://127.0.0.1:${port}/`, { timeoutMs: 2_000 })).rejects.toBeInstanceOf(
      NetworkError,
    );
  });
});

describe("a large spooled event the server drops mid-upload", () => {
  it("is moved to rejected/ instead of blocking the spool forever", async () => {
    // Takes the connection, reads a little of the body, then resets it: no HTTP answer at all.
    const dropper = createTcpServer((socket) => {
      sockets.push(socket);
      let seen = 0;
      socket.on("data", (chunk: Buffer) => {
        seen += chunk.length;
        if (seen > 256 * 1024) socket.resetAndDestroy();
        else if (chunk.includes("Expect: 100-continue")) socket.write("HTTP/1.1 100 Continue\r\n\r\n");
      });
      socket.on("error", () => undefined);
    });
    await new Promise<void>((done) => dropper.listen(0, "127.0.0.1", done));
    const url = `http://127.0.0.1:${(dropper.address() as { port: number }).port}`;
    const spoolDir = join(tempDir("drop"), "spool");
    const id = uuidv7();
    spoolEvent(
      spoolDir,
      id,
      envelopeText(
        id,
        new Date().toISOString(),
        "m",
        JSON.stringify({ session_id: "s", hook_event_name: "X", big: "z".repeat(5_000_000) }),
      ),
    );
    const result = await flushSpool(spoolDir, { url, apiKey: "k" }, { timeoutMs: 10_000 });
    for (const socket of sockets) socket.destroy();
    await new Promise((done) => dropper.close(done));
    expect(result).toMatchObject({ stop: "empty", rejected: 1, remaining: 0 });
    expect(listSpool(spoolDir)).toEqual([]);
    expect(readdirSync(join(spoolDir, "rejected"))).toContain(`${id}.json`);
  });
});
