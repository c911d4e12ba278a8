import { z } from "zod";

import { jsonObject, LIMITS, shortText, storedJsonObject, text, inputObject } from "./common.js";

/**
 * The Claude Agent SDK's `SessionStore` over the API (`sessionStore.*`; the SDK's
 * `LogbookSessionStore` calls these). A key is the SDK's `{ projectKey, sessionId, subpath? }`:
 * `subpath` names a subagent's transcript; absent for the main one.
 */
const key = {
  projectKey: text(1000).min(1, { error: "must not be empty" }),
  sessionId: shortText().min(1, { error: "must not be empty" }),
  subpath: text(1000).min(1, { error: "omit it for the main transcript" }).optional(),
};

/** One transcript line as the SDK hands it over: a JSON object with a string `type`. */
export const sessionStoreEntry = jsonObject().refine(
  (entry) => typeof entry.type === "string" && entry.type.length > 0,
  { error: "an entry needs a string `type`" },
);

export const sessionStoreAppendInput = inputObject({
  ...key,
  entries: z.array(sessionStoreEntry).max(LIMITS.maxBatch, { error: `at most ${LIMITS.maxBatch} entries per call` }),
});
export type SessionStoreAppendInput = z.output<typeof sessionStoreAppendInput>;

export const sessionStoreKeyInput = inputObject(key);
export type SessionStoreKeyInput = z.output<typeof sessionStoreKeyInput>;

export const sessionStoreProjectInput = inputObject({ projectKey: key.projectKey });
export const sessionStoreSessionInput = inputObject({ projectKey: key.projectKey, sessionId: key.sessionId });

/** The entries in append order, or null for a key never written. */
export const sessionStoreLoadOutput = z.array(storedJsonObject()).nullable();
export const sessionStoreListOutput = z.array(z.object({ sessionId: z.string(), mtime: z.number().int() }));
export const sessionStoreSubkeysOutput = z.array(z.string());
export const sessionStoreAppendOutput = z.object({
  accepted: z.number().int(),
  duplicates: z.number().int(),
  /** Characters of the stored entries PostgreSQL cannot hold (NUL, lone surrogates), stored as U+FFFD. */
  replacedCharacters: z.number().int().min(0),
});
export type SessionStoreAppendOutput = z.infer<typeof sessionStoreAppendOutput>;
