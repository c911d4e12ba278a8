import { listProjectsInput } from "@logbook/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";

import { rejection } from "../test-helpers.js";
import { ProjectService, upsertProjectByPath } from "./project-service.js";

let db: TestDatabase;
let projects: ProjectService;
beforeAll(async () => {
  db = await createTestDatabase();
  projects = new ProjectService({ knex: db.knex });
});
afterAll(() => db.destroy());

describe("ProjectService.upsert", () => {
  it("finds the same project under every spelling of its path", async () => {
    const first = await projects.upsert({ path: "/srv/spellings/app", name: "App" });
    for (const path of ["/srv/spellings/app/", " /srv//spellings/app ", "/srv/./spellings/x/../app"]) {
      const again = await projects.upsert({ path });
      expect(again.id).toBe(first.id);
      expect(again.path).toBe("/srv/spellings/app");
    }
    const count = await db.knex("projects").where("path", "like", "/srv/spellings%").count({ n: "*" });
    expect(Number(count[0]?.n)).toBe(1);
  });

  it("replaces only the fields given", async () => {
    const created = await projects.upsert({ path: "/srv/fields", name: "Before", config: { a: 1 } });
    expect(created).toMatchObject({ name: "Before", config: { a: 1 } });
    const renamed = await projects.upsert({ path: "/srv/fields", name: "After" });
    expect(renamed).toMatchObject({ id: created.id, name: "After", config: { a: 1 } });
    const reconfigured = await projects.upsert({ path: "/srv/fields", config: { b: [1, 2] } });
    expect(reconfigured).toMatchObject({ name: "After", config: { b: [1, 2] } });
  });

  it("names a new project after its folder when no name is given, and keeps a name it has", async () => {
    expect((await projects.upsert({ path: "/srv/unnamed/tool/" })).name).toBe("tool");
    expect((await projects.upsert({ path: "D:\\work\\site" })).name).toBe("site");
    await projects.upsert({ path: "/srv/unnamed/tool", name: "The tool" });
    expect((await projects.upsert({ path: "/srv/unnamed/tool", config: {} })).name).toBe("The tool");
  });

  it("keeps Windows paths usable", async () => {
    const project = await projects.upsert({ path: "C:\\Users\\me\\app\\" });
    expect(project.path).toBe("C:\\Users\\me\\app");
    expect((await projects.get({ path: "C:\\Users\\me\\\\app" })).id).toBe(project.id);
  });

  it("refuses a relative path, naming it", async () => {
    const error = await rejection(projects.upsert({ path: "src/app" }));
    expect(error.code).toBe("INVALID_INPUT");
    expect(error.message).toContain('"src/app" is relative');
  });
});

describe("upsertProjectByPath", () => {
  it("is race-safe: concurrent callers for a new path all get the one row", async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => upsertProjectByPath(db.knex, i % 2 ? "/srv/race/" : "/srv//race", "race")),
    );
    const ids = new Set(results.map((r) => r.id));
    expect(ids.size).toBe(1);
    const rows = await db.knex("projects").where({ path: "/srv/race" }).select("id");
    expect(rows).toHaveLength(1);
  });

  it("works inside the caller's transaction and only fills a missing name", async () => {
    const { id } = await db.knex.transaction((trx) => upsertProjectByPath(trx, "/srv/named"));
    expect((await projects.get({ id })).name).toBeNull();
    await upsertProjectByPath(db.knex, "/srv/named", "derived");
    expect((await projects.get({ id })).name).toBe("derived");
    await projects.upsert({ path: "/srv/named", name: "Chosen by a person" });
    await upsertProjectByPath(db.knex, "/srv/named", "derived again");
    expect((await projects.get({ id })).name).toBe("Chosen by a person");
  });

  it("rolls back with the caller's transaction", async () => {
    await expect(
      db.knex.transaction(async (trx) => {
        await upsertProjectByPath(trx, "/srv/rolled-back");
        throw new Error("caller failed");
      }),
    ).rejects.toThrow("caller failed");
    await expect(projects.get({ path: "/srv/rolled-back" })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});

describe("ProjectService.get and list", () => {
  it("gets by id and by path, NOT_FOUND otherwise", async () => {
    const project = await projects.upsert({ path: "/srv/get/me" });
    expect(await projects.get({ id: project.id })).toEqual(project);
    expect(await projects.get({ path: "/srv/get/me/" })).toEqual(project);
    const byId = await rejection(projects.get({ id: "00000000-0000-4000-8000-000000000000" }));
    expect(byId.code).toBe("NOT_FOUND");
    const byPath = await rejection(projects.get({ path: "/srv/get/nobody" }));
    expect(byPath).toMatchObject({ code: "NOT_FOUND", message: "no project has the path /srv/get/nobody" });
  });

  it("pages through a search in path order, matching wildcards literally", async () => {
    const paths = ["/list/e", "/list/a", "/list/c", "/list/d", "/list/b", "/list/100%"];
    for (const path of paths) await projects.upsert({ path, name: path === "/list/c" ? "Special Name" : undefined });
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await projects.list({ search: "/list/", limit: 2, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((p) => p.path));
      cursor = page.nextCursor ?? undefined;
      pages += 1;
    } while (cursor);
    expect(seen).toEqual([...paths].sort());
    expect(pages).toBe(3);
    expect((await projects.list(listProjectsInput.parse({ search: "special" }))).items.map((p) => p.path)).toEqual([
      "/list/c",
    ]);
    expect((await projects.list(listProjectsInput.parse({ search: "0%" }))).items.map((p) => p.path)).toEqual([
      "/list/100%",
    ]);
    expect((await projects.list(listProjectsInput.parse({ search: "%" }))).items.map((p) => p.path)).toEqual([
      "/list/100%",
    ]);
  });

  it("refuses a forged cursor", async () => {
    const error = await rejection(projects.list(listProjectsInput.parse({ cursor: "not-a-cursor" })));
    expect(error).toMatchObject({ code: "INVALID_INPUT", message: "cursor is not one this API returned" });
  });
});
