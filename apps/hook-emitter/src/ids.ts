import { closeSync, openSync, readSync } from "node:fs";

/**
 * Random bytes without `node:crypto`: loading that module costs a hook run more than
 * everything else it does. The kernel's generator is read directly; where there is no
 * /dev/urandom (Windows), V8's Math.random, which every process seeds from the OS, is
 * enough for ids that only need to be unique.
 */
export function randomBytes(size: number): Buffer {
  const bytes = Buffer.alloc(size);
  try {
    const fd = openSync("/dev/urandom", "r");
    try {
      if (readSync(fd, bytes, 0, size, null) === size) return bytes;
    } finally {
      closeSync(fd);
    }
  } catch {
    // no /dev/urandom
  }
  for (let i = 0; i < size; i++) bytes[i] = Math.floor(Math.random() * 256);
  return bytes;
}

export function randomHex(size: number): string {
  return randomBytes(size).toString("hex");
}

export function formatUuid(bytes: Buffer): string {
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then random bits. Ids sort by creation
 * time, which is what makes the spool's lexical order its capture order.
 */
export function uuidv7(now: number = Date.now()): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(now, 0, 6);
  bytes.writeUInt8((bytes.readUInt8(6) & 0x0f) | 0x70, 6);
  bytes.writeUInt8((bytes.readUInt8(8) & 0x3f) | 0x80, 8);
  return formatUuid(bytes);
}

/** RFC 9562 UUIDs as the server's contracts accept them (version 1-8, RFC variant). */
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

export function isUuid(value: unknown): value is string {
  return typeof value === "string" && UUID_RE.test(value);
}

/**
 * Any 32 hex digits as 8-4-4-4-12, RFC 9562 or not: what PostgreSQL's uuid type and an event
 * id take. Transcript lines written by other tools carry such ids; each must stay the line's
 * event id, or the `parentUuid` of the next line points at nothing.
 */
const UUID_SHAPED_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuidShaped(value: unknown): value is string {
  return typeof value === "string" && UUID_SHAPED_RE.test(value);
}
