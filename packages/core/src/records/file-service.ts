import { createHash } from "node:crypto";

import { type GetFileInput, type ListFilesInput, type TrackedFile, type UpsertFileInput } from "@logbook/contracts";
import { FileModel } from "@logbook/db";

import type { CoreDeps } from "../deps.js";
import { AppError, invalidInput, notFound } from "../errors.js";
import { decodeTextCursor, toPage } from "../pagination.js";
import { assertSessionExists } from "./session-records.js";
import { rowsOf, violated } from "../sql.js";
import { guessMimeType } from "./mime-type.js";
import {
  FILE_COLUMNS,
  FILE_SUMMARY_COLUMNS,
  toFileDto,
  toFileSummaryDto,
  type TrackedFileSummary,
} from "./record-dto.js";
import { returnedRow } from "../invariants.js";
import { redactFields, redactorOf, writeRedacted } from "../redaction/redact-record.js";

const ABSOLUTE = /^([/\\]|[A-Za-z]:)/;
const PARENT_SEGMENT = /(^|[/\\])\.\.([/\\]|$)/;

/**
 * The one spelling of a tracked file's path: relative to the project, duplicate `/`
 * collapsed, `.` segments and a trailing `/` dropped (`./src//a.ts` is `src/a.ts`).
 * Absolute paths and `..` segments are INVALID_INPUT: a tracked file never points
 * outside its project. (The contract refuses them too; services are also called
 * directly, and the table's check constraint is the last line.)
 */
export function normaliseFilePath(path: string): string {
  if (ABSOLUTE.test(path)) {
    throw invalidInput(`file path "${path}" must be relative to the project, not absolute`, { path });
  }
  if (PARENT_SEGMENT.test(path)) {
    throw invalidInput(`file path "${path}" must not contain '..' segments`, { path });
  }
  const normalised = path
    .split("/")
    .filter((segment) => segment !== "" && segment !== ".")
    .join("/");
  if (normalised === "") throw invalidInput(`file path "${path}" does not name a file`, { path });
  return normalised;
}

/** Encodings whose content stands for bytes (see `bytesOf`), not for text. */
const BYTE_ENCODINGS = new Set(["base64", "base64url", "hex"]);
const STRICT_BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const STRICT_BASE64URL = /^[A-Za-z0-9_-]*={0,2}$/;
const STRICT_HEX = /^(?:[0-9a-fA-F]{2})*$/;

/**
 * The bytes `content` stands for in its declared encoding: base64/base64url/hex are
 * decoded (and must be well formed), other encodings Node knows are encoded that way,
 * anything else (e.g. "utf-8", the default) as UTF-8. Size and hash are of these bytes.
 */
function bytesOf(content: string, encoding: string): Buffer {
  const enc = encoding.trim().toLowerCase();
  const compact = enc.startsWith("base64") ? content.replace(/\s+/g, "") : content;
  const wellFormed =
    enc === "base64"
      ? STRICT_BASE64.test(compact)
      : enc === "base64url"
        ? STRICT_BASE64URL.test(compact)
        : enc === "hex"
          ? STRICT_HEX.test(compact)
          : true;
  if (!wellFormed) throw invalidInput(`file content is not valid ${enc}`, { encoding });
  return Buffer.isEncoding(enc) ? Buffer.from(compact, enc) : Buffer.from(content, "utf8");
}

/**
 * Files a session tracks (seed 001): one row per (session, path), updated in place.
 *
 * `upsert` semantics: fields not given keep their stored value on update, except what
 * follows from `content`: given content (or an explicit null) replaces content and
 * encoding, and the size and SHA-256 default to those of its bytes (null for null
 * content) unless given. The MIME type defaults to a guess from the file name.
 */
export class FileService {
  constructor(private readonly deps: CoreDeps) {}

  async upsert(given: UpsertFileInput): Promise<TrackedFile> {
    // Content in base64 or hex is bytes, not text: no rule can read it, and a replacement
    // would break it. Any other encoding holds text, and its secrets go.
    const textual = !BYTE_ENCODINGS.has(given.encoding.trim().toLowerCase());
    const { input, count } = redactFields(redactorOf(this.deps), given, textual ? ["path", "content"] : ["path"]);
    const path = normaliseFilePath(input.path);
    const contentGiven = input.content !== undefined;
    const bytes = typeof input.content === "string" ? bytesOf(input.content, input.encoding) : null;
    // A size or hash the caller gave describes the content before its secrets were replaced.
    const redacted = input.content !== given.content;
    const sizeBytes = (redacted ? undefined : input.sizeBytes) ?? bytes?.length ?? null;
    const sha256 =
      (redacted ? undefined : input.sha256) ?? (bytes ? createHash("sha256").update(bytes).digest("hex") : null);
    const mimeType = input.mimeType ?? guessMimeType(path);
    try {
      return await writeRedacted(
        this.deps.knex,
        count,
        async (db) => {
          const rows = rowsOf(
            await db.raw(
              `INSERT INTO files (session_id, path, content, encoding, size_bytes, mime_type, sha256)
           VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (session_id, path) DO UPDATE SET
             content = CASE WHEN ?::boolean THEN EXCLUDED.content ELSE files.content END,
             encoding = CASE WHEN ?::boolean THEN EXCLUDED.encoding ELSE files.encoding END,
             size_bytes = CASE WHEN ?::boolean THEN EXCLUDED.size_bytes ELSE files.size_bytes END,
             sha256 = CASE WHEN ?::boolean THEN EXCLUDED.sha256 ELSE files.sha256 END,
             mime_type = CASE WHEN ?::boolean THEN EXCLUDED.mime_type ELSE coalesce(files.mime_type, EXCLUDED.mime_type) END
           RETURNING ${FILE_COLUMNS.join(", ")}`,
              [
                input.sessionId,
                path,
                input.content ?? null,
                input.encoding,
                sizeBytes,
                mimeType,
                sha256,
                contentGiven,
                contentGiven,
                contentGiven || input.sizeBytes !== undefined,
                contentGiven || input.sha256 !== undefined,
                input.mimeType !== undefined,
              ],
            ),
          );
          return toFileDto(FileModel.fromDatabaseJson(returnedRow(rows[0], "INSERT INTO files")));
        },
        (file) => file.sessionId,
      );
    } catch (error) {
      if (violated(error, "23503") !== null) throw notFound("session", input.sessionId);
      throw error;
    }
  }

  /** One file with its content. */
  async get(input: GetFileInput): Promise<TrackedFile> {
    const path = normaliseFilePath(input.path);
    const row = await FileModel.query(this.deps.knex)
      .select(FILE_COLUMNS)
      .where({ session_id: input.sessionId, path })
      .first();
    if (!row) {
      await assertSessionExists(this.deps.knex, input.sessionId);
      throw new AppError("NOT_FOUND", `file ${path} was not found in session ${input.sessionId}`, {
        details: { sessionId: input.sessionId, path },
      });
    }
    return toFileDto(row);
  }

  /** A session's files without their content, ordered by path. */
  async list(input: ListFilesInput): Promise<{ items: TrackedFileSummary[]; nextCursor: string | null }> {
    const query = FileModel.query(this.deps.knex)
      .select(FILE_SUMMARY_COLUMNS)
      .where("session_id", input.sessionId)
      .orderBy("path", "asc")
      .limit(input.limit + 1);
    if (input.cursor !== undefined) {
      query.where("path", ">", decodeTextCursor(input.cursor));
    }
    const rows = await query;
    if (rows.length === 0 && input.cursor === undefined) await assertSessionExists(this.deps.knex, input.sessionId);
    return toPage(rows, input.limit, toFileSummaryDto, (row) => [row.path]);
  }

  /** Stops tracking a file. `deleted` is false when the session tracked no such file. */
  async delete(input: GetFileInput): Promise<{ deleted: boolean }> {
    const path = normaliseFilePath(input.path);
    const count = await this.deps.knex("files").where({ session_id: input.sessionId, path }).delete();
    if (count === 0) await assertSessionExists(this.deps.knex, input.sessionId);
    return { deleted: count > 0 };
  }
}
