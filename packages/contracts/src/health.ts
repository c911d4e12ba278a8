import { z } from "zod";

export const health = z.object({
  status: z.enum(["ok", "degraded"]),
  version: z.string(),
  database: z.object({
    reachable: z.boolean(),
    migrationsCurrent: z.boolean(),
    pendingMigrations: z.array(z.string()),
    embedded: z.boolean(),
  }),
  uptimeSeconds: z.number(),
});
export type Health = z.infer<typeof health>;
