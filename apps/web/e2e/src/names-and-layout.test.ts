/**
 * What a new user met in the dashboard with their own data, not the fixtures': a long label,
 * two projects whose folders are both called `app`, two models whose names start alike, and
 * the webhooks form. A database of its own, so the names collide only here.
 */
import { randomUUID } from "node:crypto";
import { join } from "node:path";

import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { createLogbookClient, type LogbookClient } from "@logbook/sdk";
import { startTestServer, type TestServer } from "@logbook/server/testing";
import { expectDefined } from "@logbook/vitest-config/expect-defined";
import { waitFor } from "@logbook/vitest-config/wait-for";
import type { Browser, Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { launchChromium, SCREENSHOTS } from "./browser.js";

let db: TestDatabase;
let server: TestServer;
let client: LogbookClient;
let browser: Browser;
const shots: string[] = [];

const LABEL = "waiting for the design review of the new checkout flow before merging anything";
const PROJECTS = ["/home/me/client-a/app", "/home/me/client-b/app"] as const;
const MODELS = ["claude-sonnet-4-5-20250929", "claude-sonnet-4-5-20251101"] as const;
/** The labelled session's id, and the one in each project by its path. */
let labelled: string;
const inProject = new Map<string, string>();

const VIEWPORTS = [
  { width: 1280, height: 800 },
  { width: 390, height: 844 },
] as const;

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startTestServer({ databaseUrl: db.url });
  client = createLogbookClient({ url: server.url, apiKey: server.apiKey, retry: false });
  for (const [i, path] of PROJECTS.entries()) {
    // Named by the server after the last folder: both are "app".
    await client.projects.upsert.mutate({ path });
    const externalId = `e2e-names-${randomUUID()}`;
    const session = await client.sessions.create.mutate({
      externalId,
      projectPath: path,
      cwd: path,
      title: i === 0 ? "Fix the login redirect loop" : "Add dark mode",
      ...(i === 0 ? { label: LABEL } : {}),
    });
    inProject.set(path, session.id);
    if (i === 0) labelled = session.id;
    const at = new Date().toISOString();
    await client.ingest([
      {
        externalSessionId: externalId,
        eventType: "assistant",
        source: "transcript",
        occurredAt: at,
        payload: {
          type: "assistant",
          timestamp: at,
          message: {
            id: `msg_${randomUUID()}`,
            model: expectDefined(MODELS[i]),
            role: "assistant",
            content: [{ type: "text", text: "done" }],
            usage: { input_tokens: 1200, output_tokens: 300 },
          },
        },
      },
    ]);
  }
  browser = await launchChromium();
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await db?.destroy();
  if (shots.length > 0) console.log(`screenshots:\n${shots.map((s) => `  ${s}`).join("\n")}`);
});

async function signedIn(apiKey: string, viewport: { width: number; height: number }) {
  const context = await browser.newContext({ viewport, colorScheme: "light" });
  const page = await context.newPage();
  const link = await createLogbookClient({ url: server.url, apiKey, retry: false }).auth.createLoginLink.mutate();
  await page.goto(link.url);
  await page.waitForURL(`${server.url}/`);
  await page.getByRole("heading", { name: "Sessions" }).waitFor();
  return { context, page };
}

async function shot(page: Page, name: string): Promise<void> {
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  shots.push(path);
}

async function box(locator: Locator) {
  return expectDefined(await locator.boundingBox(), "a box on screen");
}

/** `inner` lies within `outer` (half a pixel for rounding). */
async function expectInside(inner: Locator, outer: Locator): Promise<void> {
  const a = await box(inner);
  const b = await box(outer);
  expect(a.x).toBeGreaterThanOrEqual(b.x - 0.5);
  expect(a.x + a.width).toBeLessThanOrEqual(b.x + b.width + 0.5);
}

describe("names and layout", () => {
  for (const viewport of VIEWPORTS) {
    it(`a long label is cut within its cell and whole in its title; its editor stays in the row (${viewport.width}×${viewport.height})`, async () => {
      const { context, page } = await signedIn(server.apiKey, viewport);
      const row = page.locator(`[role=row][data-session-id="${labelled}"]`);
      const chip = row.locator(".label-chip");
      await chip.waitFor();
      expect(await chip.getAttribute("title")).toBe(LABEL);
      // The whole chip is on screen, within the name's cell, beside the name.
      await expectInside(chip, row.locator(".name"));
      expect((await box(chip)).width).toBeGreaterThan(20);

      await row.getByRole("button", { name: /^Label / }).click();
      const field = page.getByRole("textbox", { name: /^Label for / });
      expect(await field.inputValue()).toBe(LABEL);
      for (const part of [
        field,
        row.getByRole("button", { name: "Save" }),
        row.getByRole("button", { name: "Cancel" }),
      ]) {
        await expectInside(part, row);
      }
      expect((await box(field)).width).toBeGreaterThan(120);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(viewport.width);
      await shot(page, `label-editor-${viewport.width}`);
      // Escape leaves the label as it was, and the keyboard where it was: on the Label button.
      await field.press("Escape");
      const labelButton = row.getByRole("button", { name: /^Label / });
      await labelButton.waitFor();
      expect(await labelButton.evaluate((el) => el === document.activeElement)).toBe(true);
      expect(await chip.getAttribute("title")).toBe(LABEL);
      await context.close();
    });
  }

  it("two projects whose folders are both 'app' are told apart wherever one is shown or chosen", async () => {
    // A session that worked in a subfolder is shown by its project, not by that folder.
    const deeper = await client.sessions.create.mutate({
      externalId: `e2e-names-${randomUUID()}`,
      projectPath: PROJECTS[0],
      cwd: `${PROJECTS[0]}/packages/types`,
      title: "Tighten the types",
    });
    const adminKey = await server.createKey(["admin", "ingest"], "e2e-names-admin");
    const { context, page } = await signedIn(adminKey, VIEWPORTS[0]);
    const deeperCell = page.locator(`[role=row][data-session-id="${deeper.id}"] [role=cell]`).nth(2);
    await deeperCell.waitFor();
    await waitFor("the subfolder session shown by its project", () => deeperCell.textContent(), {
      deadlineMs: 30_000,
      accept: (text) => text?.includes("client-a/app") === true,
    });
    expect(await deeperCell.textContent()).not.toContain("types");
    expect(await deeperCell.getAttribute("title")).toBe(`${PROJECTS[0]}/packages/types`);
    // The sessions list: each session's project by the end of its path that tells them apart.
    for (const path of PROJECTS) {
      const cell = page.locator(`[role=row][data-session-id="${inProject.get(path)}"] [role=cell]`).nth(2);
      expect(await cell.textContent()).toContain(path.split("/").slice(-2).join("/"));
      expect(await cell.getAttribute("title")).toBe(path);
    }
    // The search and webhook project choices.
    for (const [where, heading] of [
      ["/search", "Search"],
      ["/webhooks", "Webhooks"],
    ] as const) {
      await page.goto(`${server.url}${where}`);
      await page.getByRole("heading", { name: heading, level: 1 }).waitFor();
      const select = page.getByLabel("Project", { exact: true });
      await select.locator("option").nth(2).waitFor({ state: "attached" });
      const options = await select
        .locator("option")
        .evaluateAll((els) => els.map((el) => ({ text: el.textContent, title: el.getAttribute("title") })));
      expect(options).toEqual([
        { text: "all", title: null },
        { text: "client-a/app", title: PROJECTS[0] },
        { text: "client-b/app", title: PROJECTS[1] },
      ]);
    }
    // Its page: the project by name (the path in its title), the folder it worked in beside it.
    await page.goto(`${server.url}/sessions/${deeper.id}`);
    const projectCell = page.locator(".session-head dt", { hasText: /^Project$/ }).locator("xpath=../dd");
    await waitFor("the session's project named", () => projectCell.textContent(), {
      deadlineMs: 30_000,
      accept: (text) => text === "app",
    });
    expect(await projectCell.getAttribute("title")).toBe(PROJECTS[0]);
    expect(
      await page
        .locator(".session-head dt", { hasText: /^Directory$/ })
        .locator("xpath=../dd")
        .textContent(),
    ).toBe(`${PROJECTS[0]}/packages/types`);
    // The projects page.
    await page.goto(`${server.url}/projects`);
    await page.getByRole("rowheader").nth(1).waitFor();
    expect((await page.getByRole("rowheader").allTextContents()).sort()).toEqual(["client-a/app", "client-b/app"]);
    await context.close();
  });

  for (const [groupBy, expected] of [
    ["model", MODELS],
    ["project", ["client-a/app", "client-b/app"]],
  ] as const) {
    it(`usage per ${groupBy}: names alike at the start read differently under their bars, full on hover`, async () => {
      const { context, page } = await signedIn(server.apiKey, VIEWPORTS[0]);
      await page.goto(`${server.url}/usage`);
      await page.getByLabel("Per", { exact: true }).selectOption(groupBy);
      await page.locator("table caption", { hasText: `per ${groupBy}` }).waitFor();
      const labels = page.locator(".visx-axis-bottom text");
      await labels.nth(1).waitFor();
      const shown = await labels.evaluateAll((els) =>
        els.map((el) => ({
          // The text drawn, without the tooltip's.
          text: Array.from(el.childNodes)
            .filter((n) => n.nodeType === Node.TEXT_NODE || n.nodeName === "tspan")
            .map((n) => n.textContent)
            .join(""),
          title: el.querySelector("title")?.textContent ?? null,
        })),
      );
      expect(new Set(shown.map((s) => s.text)).size).toBe(2);
      for (const s of shown) expect(s.text.length).toBeLessThanOrEqual(20);
      const full = groupBy === "project" ? PROJECTS : MODELS;
      expect(shown.map((s) => s.title).sort()).toEqual([...full].sort());
      if (groupBy === "project") expect(shown.map((s) => s.text).sort()).toEqual([...expected].sort());
      await shot(page, `usage-per-${groupBy}`);
      await context.close();
    });
  }

  for (const viewport of VIEWPORTS) {
    it(`the webhooks form lines its fields up and stays within the page (${viewport.width}×${viewport.height})`, async () => {
      const adminKey = await server.createKey(["admin"], `e2e-webhooks-${viewport.width}`);
      const { context, page } = await signedIn(adminKey, viewport);
      await page.goto(`${server.url}/webhooks`);
      const form = page.locator("form", { has: page.getByRole("heading", { name: "Add a webhook" }) });
      await form.waitFor();
      const fields = ["Receiver URL", "Name (optional)", "Body", "Project"].map((name) =>
        form.getByLabel(name, { exact: true }),
      );
      // One column of fields, one width, whatever their labels' lengths.
      const boxes = await Promise.all(fields.map(box));
      const first = expectDefined(boxes[0]);
      for (const b of boxes) {
        expect(Math.abs(b.x - first.x)).toBeLessThanOrEqual(1);
        expect(Math.abs(b.width - first.width)).toBeLessThanOrEqual(1);
      }
      for (const part of [...fields, form.getByRole("group", { name: "Sessions entering" })]) {
        await expectInside(part, form);
      }
      expect((await box(form)).x + (await box(form)).width).toBeLessThanOrEqual(viewport.width);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(viewport.width);
      await shot(page, `webhooks-form-${viewport.width}`);
      await context.close();
    });
  }
  it("at phone width no view is wider than the page: a wide table or the chart scrolls by itself", async () => {
    const adminKey = await server.createKey(["admin", "ingest"], "e2e-phone-widths");
    const { context, page } = await signedIn(adminKey, VIEWPORTS[1]);
    for (const path of ["/", "/usage", "/projects", "/jobs", "/keys", "/webhooks", `/sessions/${labelled}`]) {
      await page.goto(`${server.url}${path}`);
      await page.getByRole("heading", { level: 1 }).waitFor();
      await page.locator(".state[role=status]").first().waitFor({ state: "detached" });
      expect({ path, width: await page.evaluate(() => document.documentElement.scrollWidth) }).toEqual({
        path,
        width: VIEWPORTS[1].width,
      });
    }
    await context.close();
  });
  it("usage's choices live in the address: a reload or a shared link shows the same report", async () => {
    const { context, page } = await signedIn(server.apiKey, VIEWPORTS[0]);
    await page.getByRole("link", { name: "Usage" }).click();
    await page.getByLabel("Per", { exact: true }).selectOption("model");
    await page.getByLabel("Over", { exact: true }).selectOption("last 90 days");
    await page.waitForURL(`${server.url}/usage?per=model&over=90`);
    await page.reload();
    await page.locator("table caption", { hasText: "per model" }).waitFor();
    expect(await page.getByLabel("Per", { exact: true }).inputValue()).toBe("model");
    expect(await page.getByLabel("Over", { exact: true }).inputValue()).toBe("last 90 days");
    await page.goto(`${server.url}/usage?over=all`);
    await page.locator(".view-head .muted", { hasText: "all time" }).waitFor();
    await context.close();
  });
  it("a session of one entry says '1 entry', not '1 entries'", async () => {
    const { context, page } = await signedIn(server.apiKey, VIEWPORTS[0]);
    await page.goto(`${server.url}/sessions/${labelled}`);
    const status = page.locator("[data-live-status=pending]");
    await status.waitFor();
    expect(await status.textContent()).toBe("1 entry · live");
    await context.close();
  });
});
