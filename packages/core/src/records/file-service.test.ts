import { listFilesInput, upsertFileInput } from "@logbook/contracts";
import { createHash } from "node:crypto";

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";

import { FileService, normaliseFilePath } from "./file-service.js";
import { guessMimeType } from "./mime-type.js";
import { NO_SUCH_ID, allPages, newSession, rejection } from "../test-helpers.js";

let db: TestDatabase;
let files: FileService;
beforeAll(async () => {
  db = await createTestDatabase();
  files = new FileService({ knex: db.knex });
});
afterAll(() => db.destroy());

const sha = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

describe("FileService.upsert", () => {
  it("derives size, hash and MIME type from the content", async () => {
    const sessionId = await newSession(db.knex);
    const content = "export const café = '☕';\n";
    const file = await files.upsert(upsertFileInput.parse({ sessionId, path: "src/index.ts", content }));
    expect(file).toMatchObject({
      sessionId,
      path: "src/index.ts",
      content,
      encoding: "utf-8",
      sizeBytes: Buffer.byteLength(content, "utf8"),
      sha256: sha(content),
      mimeType: "text/typescript",
    });
    expect(file.sizeBytes).toBeGreaterThan(content.length);
  });

  it("updates in place: one row per (session, path), same id", async () => {
    const sessionId = await newSession(db.knex);
    const first = await files.upsert(upsertFileInput.parse({ sessionId, path: "README.md", content: "v1" }));
    const second = await files.upsert(
      upsertFileInput.parse({ sessionId, path: "./README.md", content: "version two" }),
    );
    expect(second.id).toBe(first.id);
    expect(second).toMatchObject({
      content: "version two",
      sizeBytes: 11,
      sha256: sha("version two"),
      mimeType: "text/markdown",
    });
    expect(Date.parse(second.updatedAt)).toBeGreaterThanOrEqual(Date.parse(first.updatedAt));
    expect(second.createdAt).toBe(first.createdAt);
    expect(await db.knex("files").where({ session_id: sessionId })).toHaveLength(1);
  });

  it("keeps what is not given, and honours what is", async () => {
    const sessionId = await newSession(db.knex);
    await files.upsert({
      sessionId,
      path: "data.bin",
      content: "AAEC",
      encoding: "base64",
      mimeType: "application/x-thing",
    });
    const touched = await files.upsert(upsertFileInput.parse({ sessionId, path: "data.bin" }));
    expect(touched).toMatchObject({
      content: "AAEC",
      encoding: "base64",
      sizeBytes: 3,
      sha256: sha(Buffer.from([0, 1, 2])),
      mimeType: "application/x-thing",
    });
    const declared = await files.upsert(upsertFileInput.parse({ sessionId, path: "data.bin", sizeBytes: 99 }));
    expect(declared).toMatchObject({ content: "AAEC", sizeBytes: 99 });
    const cleared = await files.upsert(upsertFileInput.parse({ sessionId, path: "data.bin", content: null }));
    expect(cleared).toMatchObject({ content: null, sizeBytes: null, sha256: null, encoding: "utf-8" });
    const given = await files.upsert(
      upsertFileInput.parse({
        sessionId,
        path: "notes",
        content: "x",
        sha256: "a".repeat(64),
        sizeBytes: 1000,
      }),
    );
    expect(given).toMatchObject({ sha256: "a".repeat(64), sizeBytes: 1000, mimeType: null });
  });

  it.each([
    ["../etc/passwd", "'..' segments"],
    ["src/../../secret", "'..' segments"],
    ["src\\..\\..\\secret", "'..' segments"],
    ["..", "'..' segments"],
    ["a/..", "'..' segments"],
    ["/etc/passwd", "not absolute"],
    ["\\\\server\\share\\x", "not absolute"],
    ["C:\\Windows\\x", "not absolute"],
    ["c:relative", "not absolute"],
  ])("refuses the path %j, saying why", (path, why) => {
    // The service's own check, behind the contract's (the files router's tests send these through the contract).
    expect(() => normaliseFilePath(path)).toThrow(why.includes("..") ? /'\.\.' segments/ : /not absolute/);
  });

  it("refuses malformed content and an unknown session", async () => {
    const sessionId = await newSession(db.knex);
    expect((await rejection(files.upsert({ sessionId, path: "a", content: "%%%", encoding: "base64" }))).message).toBe(
      "file content is not valid base64",
    );
    expect(
      await rejection(files.upsert(upsertFileInput.parse({ sessionId: NO_SUCH_ID, path: "a", content: "x" }))),
    ).toMatchObject({
      code: "NOT_FOUND",
      message: `session ${NO_SUCH_ID} was not found`,
    });
  });
});

describe("FileService.get, list and delete", () => {
  it("gets one file with content, lists summaries by path, deletes", async () => {
    const sessionId = await newSession(db.knex);
    for (const path of ["src/b.ts", "src/a.ts", "package.json", "docs/guide.md", "z.txt"]) {
      await files.upsert(upsertFileInput.parse({ sessionId, path, content: `content of ${path}` }));
    }
    expect(await files.get({ sessionId, path: "src//a.ts" })).toMatchObject({
      path: "src/a.ts",
      content: "content of src/a.ts",
    });
    const { items, pages } = await allPages((cursor) =>
      files.list({ sessionId, limit: 2, ...(cursor ? { cursor } : {}) }),
    );
    expect(items.map((f) => f.path)).toEqual(["docs/guide.md", "package.json", "src/a.ts", "src/b.ts", "z.txt"]);
    expect(pages).toBe(3);
    expect(items.every((f) => !("content" in f))).toBe(true);

    expect(await files.delete({ sessionId, path: "src/a.ts" })).toEqual({ deleted: true });
    expect(await files.delete({ sessionId, path: "src/a.ts" })).toEqual({ deleted: false });
    const gone = await rejection(files.get({ sessionId, path: "src/a.ts" }));
    expect(gone).toMatchObject({ code: "NOT_FOUND", message: `file src/a.ts was not found in session ${sessionId}` });
  });

  it("says when the session itself is unknown", async () => {
    for (const call of [
      () => files.get({ sessionId: NO_SUCH_ID, path: "a" }),
      () => files.list(listFilesInput.parse({ sessionId: NO_SUCH_ID })),
      () => files.delete({ sessionId: NO_SUCH_ID, path: "a" }),
    ]) {
      expect(await rejection(call())).toMatchObject({
        code: "NOT_FOUND",
        message: `session ${NO_SUCH_ID} was not found`,
      });
    }
  });
});

describe("guessMimeType", () => {
  it("knows the files agents touch", () => {
    expect(guessMimeType("src/App.TSX")).toBe("text/typescript");
    expect(guessMimeType("Dockerfile")).toBe("text/x-dockerfile");
    expect(guessMimeType("logo.png")).toBe("image/png");
    expect(guessMimeType(".gitignore")).toBe("text/plain");
    expect(guessMimeType("LICENSE.unknownext")).toBeNull();
    expect(guessMimeType(".hidden")).toBeNull();
  });

  it("answers null for names Object.prototype knows (the lookup is keyed by the caller's path)", () => {
    for (const path of ["src/constructor", "a.constructor", "__proto__", "x.__proto__", "x.toString", "hasOwnProperty"])
      expect(guessMimeType(path), path).toBeNull();
  });
});

describe("FileService.upsert with names Object.prototype knows", () => {
  it("stores no MIME type for them rather than failing or storing an inherited value", async () => {
    const sessionId = await newSession(db.knex);
    for (const path of ["lib/constructor", "x.constructor", "__proto__", "y.__proto__", "z.valueOf"]) {
      const file = await files.upsert(upsertFileInput.parse({ sessionId, path, content: "x" }));
      expect(file.mimeType, path).toBeNull();
    }
  });
});
