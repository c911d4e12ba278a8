import {
  type GetProjectInput,
  type ListProjectsInput,
  type Project,
  type UpsertProjectInput,
} from "@logbook/contracts";
import { ProjectModel, type Knex } from "@logbook/db";

import type { CoreDeps } from "../deps.js";
import { AppError, notFound } from "../errors.js";
import { sanitizeJsonForPostgres } from "../json.js";
import { decodeTextCursor, likePattern, toPage } from "../pagination.js";
import { rowsOf } from "../sql.js";
import { canonicalProjectPath, projectNameOf } from "./project-path.js";
import { PROJECT_COLUMNS, toProjectDto } from "./project-dto.js";
import { returnedRow } from "../invariants.js";

export { canonicalProjectPath } from "./project-path.js";

const RETURNING = PROJECT_COLUMNS.join(", ");

/**
 * Finds or creates the project at `path` and returns its id; race-safe (the unique
 * path plus `INSERT … ON CONFLICT`), for callers inside their own transaction (the
 * session service, on every hook that carries a cwd).
 *
 * `name` only fills a project that has none: a name given by a person through
 * `projects.upsert` is never overwritten by a derived one. When nothing changes, nothing
 * is written, so concurrent ingest for one project does not queue on its row lock.
 */
export async function upsertProjectByPath(
  knexOrTrx: Knex,
  path: string,
  name?: string | null,
): Promise<{ id: string }> {
  const canonical = canonicalProjectPath(path);
  // Two rounds at most: the fallback SELECT misses only if the row was deleted in between.
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const inserted = rowsOf(
      await knexOrTrx.raw(
        `INSERT INTO projects (path, name) VALUES (?, ?)
         ON CONFLICT (path) DO UPDATE SET name = EXCLUDED.name
           WHERE projects.name IS NULL AND EXCLUDED.name IS NOT NULL
         RETURNING id`,
        [canonical, name ?? null],
      ),
    );
    const id =
      inserted[0]?.id ??
      (await knexOrTrx("projects").where({ path: canonical }).first<{ id: string } | undefined>("id"))?.id;
    if (typeof id === "string") return { id };
  }
  throw new AppError("CONFLICT", `project ${canonical} was deleted while it was being upserted, try again`);
}

/** Projects: one row per canonical path (seed 004), found by id or by path. */
export class ProjectService {
  constructor(private readonly deps: CoreDeps) {}

  /**
   * Creates the project at the canonical `path` (named after its last segment unless a name is
   * given), or updates the name/config given.
   */
  async upsert(input: UpsertProjectInput): Promise<Project> {
    const path = canonicalProjectPath(input.path);
    const config = input.config === undefined ? undefined : sanitizeJsonForPostgres(input.config);
    // Only the fields given are replaced; with neither, the no-op update still returns the row.
    const sets = ["path = EXCLUDED.path"];
    if (input.name !== undefined) sets.push("name = EXCLUDED.name");
    if (config !== undefined) sets.push("config = EXCLUDED.config");
    const rows = rowsOf(
      await this.deps.knex.raw(
        `INSERT INTO projects (path, name, config) VALUES (?, ?, ?::jsonb)
         ON CONFLICT (path) DO UPDATE SET ${sets.join(", ")}
         RETURNING ${RETURNING}`,
        // A new project without a name is named as one derived from a session's cwd would be.
        [path, input.name ?? projectNameOf(path), JSON.stringify(config ?? {})],
      ),
    );
    return toProjectDto(ProjectModel.fromDatabaseJson(returnedRow(rows[0], "UPDATE projects")));
  }

  /** By id, or by path (canonicalised first, so `/a/b/` finds `/a/b`). */
  async get(input: GetProjectInput): Promise<Project> {
    const query = ProjectModel.query(this.deps.knex).select(PROJECT_COLUMNS).first();
    if ("id" in input) {
      const row = await query.where("id", input.id);
      if (!row) throw notFound("project", input.id);
      return toProjectDto(row);
    }
    const path = canonicalProjectPath(input.path);
    const row = await query.where("path", path);
    if (!row) throw new AppError("NOT_FOUND", `no project has the path ${path}`, { details: { path } });
    return toProjectDto(row);
  }

  /**
   * Ordered by path (unique, so a stable keyset); `search` matches path or name,
   * case-insensitively, as literal text.
   */
  async list(input: ListProjectsInput): Promise<{ items: Project[]; nextCursor: string | null }> {
    const query = ProjectModel.query(this.deps.knex)
      .select(PROJECT_COLUMNS)
      .orderBy("path", "asc")
      .limit(input.limit + 1);
    const search = input.search?.trim();
    if (search) {
      const pattern = likePattern(search);
      query.where((q) => q.where("path", "ilike", pattern).orWhere("name", "ilike", pattern));
    }
    if (input.cursor !== undefined) {
      query.where("path", ">", decodeTextCursor(input.cursor));
    }
    const rows = await query;
    return toPage(rows, input.limit, toProjectDto, (row) => [row.path]);
  }
}
