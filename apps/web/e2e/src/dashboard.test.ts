/**
 * The dashboard in a real browser (issue 17): Debian's Chromium against the built server
 * (which serves the built app) with the fixtures' hook payloads as data. Signs in through a
 * login link, sees the sessions, opens one with its timeline and subagents, watches an event
 * ingested through the API arrive, checks a read-only key cannot pin or label, signs out.
 * Screenshots of every view go to e2e/screenshots/ (printed at the end).
 */
import { randomUUID } from "node:crypto";
import { join } from "node:path";

import { createTestDatabase, type TestDatabase } from "@logbook/db/testing";
import { hookFixtures } from "@logbook/fixtures";
import { createLogbookClient, type LogbookClient } from "@logbook/sdk";
import { expectDefined } from "@logbook/vitest-config/expect-defined";
import { startTestServer, type TestServer } from "@logbook/server/testing";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { launchChromium, SCREENSHOTS } from "./browser.js";

let db: TestDatabase;
let server: TestServer;
let client: LogbookClient;
let browser: Browser;
const shots: string[] = [];
/** The fixture session with the most subagents, and its external id. */
let parent: { id: string; externalId: string };

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startTestServer({ databaseUrl: db.url });
  client = createLogbookClient({ url: server.url, apiKey: server.apiKey, retry: false });
  const payloads = hookFixtures();
  for (let i = 0; i < payloads.length; i += 200) {
    await client.hooks.ingest.mutate({
      events: payloads.slice(i, i + 200).map((payload) => ({ payload, machineId: "e2e-box" })),
    });
  }
  const { items } = await client.sessions.list.query({ limit: 500, parentSessionId: null });
  const trees = await Promise.all(items.map((s) => client.sessions.tree.query({ id: s.id })));
  const withChildren = trees.filter((t) => t.descendants.length > 0);
  expect(withChildren.length).toBeGreaterThan(0);
  const best = expectDefined(withChildren.sort((a, b) => b.descendants.length - a.descendants.length)[0]);
  parent = { id: best.session.id, externalId: expectDefined(best.session.externalId, "its external id") };
  browser = await launchChromium();
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await db?.destroy();
  if (shots.length > 0) console.log(`screenshots:\n${shots.map((s) => `  ${s}`).join("\n")}`);
});

async function shot(page: Page, name: string): Promise<void> {
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: false });
  shots.push(path);
}

/** A fresh browser signed in with `apiKey` through a login link, at 1280×720. */
async function signedIn(apiKey: string, options: { colorScheme?: "light" | "dark"; phone?: boolean } = {}) {
  const context: BrowserContext = await browser.newContext({
    viewport: options.phone ? { width: 390, height: 844 } : { width: 1280, height: 720 },
    colorScheme: options.colorScheme ?? "light",
  });
  const page = await context.newPage();
  const link = await createLogbookClient({ url: server.url, apiKey, retry: false }).auth.createLoginLink.mutate();
  await page.goto(link.url);
  await page.waitForURL(`${server.url}/`);
  await page.getByRole("heading", { name: "Sessions" }).waitFor();
  return { context, page };
}

const rows = (page: Page) => page.locator("[role=row][data-session-id]");

describe("dashboard", () => {
  it("signs in through a login link and lists the fixture sessions, live", async () => {
    const { context, page } = await signedIn(server.apiKey);
    await rows(page).first().waitFor();
    const shown = await rows(page).count();
    const { items } = await client.sessions.list.query({ limit: 500, hidden: false });
    expect(shown).toBe(Math.min(items.length, shown));
    expect(shown).toBeGreaterThan(0);
    // The link's token left the address bar; the cookie is not readable by scripts.
    expect(page.url()).toBe(`${server.url}/`);
    expect(await page.evaluate(() => document.cookie)).toBe("");
    await page.locator(".live-pending").waitFor();
    await shot(page, "sessions");

    // A new session appears at the top without a reload.
    const title = `e2e live session ${randomUUID().slice(0, 8)}`;
    const externalId = `e2e-${randomUUID()}`;
    await client.ingest([{ externalSessionId: externalId, eventType: "note", message: "hi" }]);
    const created = await client.sessions.get.query({ externalId });
    await client.sessions.update.mutate({ id: created.id, title });
    await page.getByRole("link", { name: title }).waitFor();
    await context.close();
  });

  it("phone width and dark mode", async () => {
    const phone = await signedIn(server.apiKey, { phone: true });
    await rows(phone.page).first().waitFor();
    await shot(phone.page, "sessions-phone");
    await phone.context.close();
    const dark = await signedIn(server.apiKey, { colorScheme: "dark" });
    await rows(dark.page).first().waitFor();
    await shot(dark.page, "sessions-dark");
    await dark.context.close();
  });

  it("a session page shows its timeline and subagents; an event ingested through the API appears within 2 s", async () => {
    const { context, page } = await signedIn(server.apiKey);
    await page.goto(`${server.url}/sessions/${parent.id}`);
    await page.getByTestId("timeline").locator("li.entry").first().waitFor();
    const subagents = page.getByTestId("subagent-tree").locator("li");
    await subagents.first().waitFor();
    const tree = await client.sessions.tree.query({ id: parent.id });
    expect(await subagents.count()).toBe(tree.descendants.length);
    await shot(page, "session");

    // Open a tool call: its payload is fetched then.
    const tool = page.locator("li.entry.kind-tool .entry-head").first();
    if ((await tool.count()) > 0) {
      await tool.click();
      await page.locator(".payloads pre").first().waitFor();
      await shot(page, "session-tool-open");
    }

    await page.locator("[data-live-status=pending]").waitFor();
    // Follow the tail: at the bottom of the timeline, new entries keep the reader there.
    const timeline = page.getByTestId("timeline");
    await timeline.evaluate((el) => el.scrollTo({ top: el.scrollHeight }));
    await page.locator("[data-testid=timeline][data-following=true]").waitFor();
    const message = `e2e live event ${randomUUID()}`;
    await client.ingest([{ externalSessionId: parent.externalId, eventType: "note", message }]);
    // The issue's own limit: visible within two seconds of the API accepting it.
    await page.getByText(message).waitFor({ timeout: 2_000 });
    await shot(page, "session-live");
    await context.close();
  });

  it("a read-only key cannot pin or label (the buttons say so, and the server refuses)", async () => {
    const readKey = await server.createKey(["read"], "e2e-read-only");
    const { context, page } = await signedIn(readKey);
    const first = rows(page).first();
    await first.waitFor();
    // The page knows who it is (buttons are also off while it asks).
    await page.locator(".who").getByText("e2e-read-only").waitFor();
    const pin = first.getByRole("button", { name: /^(Pin|Unpin) / });
    const label = first.getByRole("button", { name: /^Label / });
    expect(await pin.isDisabled()).toBe(true);
    expect(await label.isDisabled()).toBe(true);
    await shot(page, "sessions-read-only");
    const sessionId = await first.getAttribute("data-session-id");
    const status = await page.evaluate(async (id) => {
      const response = await fetch("/trpc/sessions.update", {
        method: "POST",
        headers: { "content-type": "application/json", "x-logbook-csrf": "1" },
        body: JSON.stringify({ id, pinned: true, label: "nope" }),
      });
      return response.status;
    }, sessionId);
    expect(status).toBe(403);
    const after = await client.sessions.get.query({ id: expectDefined(sessionId, "the row's session id") });
    expect(after.pinned).toBe(false);
    expect(after.label).not.toBe("nope");
    await context.close();
  });

  it("a key with ingest pins and labels from the list", async () => {
    const { context, page } = await signedIn(server.apiKey);
    const row = page.locator(`[role=row][data-session-id="${parent.id}"]`);
    await row.waitFor();
    await row.getByRole("button", { name: /^Pin / }).click();
    await row.getByRole("button", { name: /^Unpin / }).waitFor();
    await row.getByRole("button", { name: /^Label / }).click();
    await page.getByRole("textbox", { name: /^Label for / }).fill("e2e-label");
    await page.getByRole("button", { name: "Save" }).click();
    await row.locator(".label-chip", { hasText: "e2e-label" }).waitFor();
    const stored = await client.sessions.get.query({ id: parent.id });
    expect(stored).toMatchObject({ pinned: true, label: "e2e-label" });
    await context.close();
  });

  it("usage, projects and jobs views render, and the sign-in page", async () => {
    const { context, page } = await signedIn(server.apiKey);
    for (const [path, heading, name] of [
      ["/usage", "Usage", "usage"],
      ["/projects", "Projects and locks", "projects"],
      ["/jobs", "Jobs", "jobs"],
    ] as const) {
      await page.getByRole("link", { name: heading.split(" ")[0] }).click();
      await page.waitForURL(`${server.url}${path}`);
      await page.getByRole("heading", { name: heading }).waitFor();
      await page.locator(".state[role=status]").waitFor({ state: "detached" });
      await shot(page, name);
    }
    await context.close();
    const anonymous = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    const signInPage = await anonymous.newPage();
    await signInPage.goto(`${server.url}/`);
    await signInPage.waitForURL(`${server.url}/sign-in`);
    await shot(signInPage, "sign-in");
    await anonymous.close();
  });

  it("a used link is refused; the sign-in form takes a key", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    const page = await context.newPage();
    const link = await client.auth.createLoginLink.mutate();
    await fetch(link.url, { redirect: "manual" });
    await page.goto(link.url);
    await page.waitForURL(/\/sign-in\?link=invalid$/);
    await page.getByRole("alert").waitFor();
    await page.getByLabel("API key").fill(server.apiKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${server.url}/`);
    await rows(page).first().waitFor();
    await context.close();
  });

  it("sign-out ends the session on the server", async () => {
    const { context, page } = await signedIn(server.apiKey);
    const cookie = expectDefined((await context.cookies())[0], "the session cookie");
    expect(cookie).toMatchObject({ name: "logbook_session", httpOnly: true, sameSite: "Strict" });
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(`${server.url}/sign-in`);
    await page.goto(`${server.url}/`);
    await page.waitForURL(`${server.url}/sign-in`);
    // The old cookie, replayed from outside the browser, is dead too.
    const replay = await fetch(`${server.url}/trpc/auth.whoami`, {
      headers: { cookie: `${cookie.name}=${cookie.value}` },
    });
    expect(replay.status).toBe(401);
    await context.close();
  });
});
