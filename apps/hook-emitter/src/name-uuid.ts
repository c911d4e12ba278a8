import { createHash } from "node:crypto";

import { formatUuid } from "./ids.js";

/** A name-based UUID (version 5 layout, SHA-1): the same name always gives the same id. */
export function uuidFromName(name: string): string {
  const bytes = createHash("sha1").update(name).digest().subarray(0, 16);
  bytes.writeUInt8((bytes.readUInt8(6) & 0x0f) | 0x50, 6);
  bytes.writeUInt8((bytes.readUInt8(8) & 0x3f) | 0x80, 8);
  return formatUuid(bytes);
}
