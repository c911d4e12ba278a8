import { z } from "zod";

import { isoDateTime, nonEmptyShortText, uuid, storedDateTime, inputObject } from "./common.js";
import { apiKeyScope } from "./enums.js";

/** A key as listed: never the secret, never its hash. */
export const apiKey = z.object({
  id: z.string(),
  name: z.string(),
  prefix: z.string(),
  scopes: z.array(apiKeyScope),
  createdAt: isoDateTime(),
  lastUsedAt: isoDateTime().nullable(),
  expiresAt: isoDateTime().nullable(),
  revokedAt: isoDateTime().nullable(),
});
export type ApiKey = z.infer<typeof apiKey>;

export const createApiKeyInput = inputObject({
  name: nonEmptyShortText(),
  scopes: z.array(apiKeyScope).min(1, { error: "give at least one scope" }),
  expiresAt: storedDateTime().optional(),
});
export type CreateApiKeyInput = z.output<typeof createApiKeyInput>;

/** The only time the secret is shown. */
export const createdApiKey = z.object({ key: apiKey, secret: z.string() });
export type CreatedApiKey = z.infer<typeof createdApiKey>;

/** Who the presented key is (`auth.whoami`). */
export const whoamiOutput = z.object({ keyId: z.string(), name: z.string(), scopes: z.array(apiKeyScope) });

export const revokeApiKeyInput = inputObject({ id: uuid() });

/**
 * `auth.createLoginLink`: a single-use sign-in link for the dashboard, valid until
 * `expiresAt` (two minutes). Opening it signs the browser in with the calling key's scopes.
 */
export const loginLink = z.object({
  /** The link to open: the server's public URL followed by `path`. */
  url: z.string(),
  /** `/auth/link?token=…`, for a client that knows the server's address better (a proxy). */
  path: z.string(),
  expiresAt: isoDateTime(),
});
export type LoginLink = z.infer<typeof loginLink>;
