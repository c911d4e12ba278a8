/**
 * The dashboard in a real browser (issue 17): Debian's Chromium against the built server
 * (which serves the built app) with the fixtures' hook payloads as data. Signs in through a
 * login link, sees the sessions, opens one with its timeline and subagents, watches an event
 * ingested through the API arrive, checks a read-only key cannot pin or label, signs out.
 * Screenshots of every view go to e2e/screenshots/ (printed at the end).
 */
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
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
/** A webhook receiver on this machine (the server allows private receivers here only). */
let receiver: Server;
const received: { event: string | undefined; signature: string | undefined }[] = [];
let client: LogbookClient;
let browser: Browser;
const shots: string[] = [];
/** The fixture session with the most subagents, and its external id. */
let parent: { id: string; externalId: string };
/** One of its subagents' sessions. */
let subagentId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startTestServer({
    databaseUrl: db.url,
    env: { LOGBOOK_WEBHOOKS_ALLOW_PRIVATE: "true", LOGBOOK_WEBHOOKS_POLL_MS: "100" },
  });
  receiver = createServer((request, response) => {
    request.resume();
    request.on("end", () => {
      const header = (name: string) => {
        const value = request.headers[name];
        return typeof value === "string" ? value : undefined;
      };
      received.push({ event: header("logbook-webhook-event"), signature: header("logbook-webhook-signature") });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
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
  subagentId = expectDefined(best.descendants[0], "a subagent").session.id;
  browser = await launchChromium();
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await new Promise((resolve) => (receiver ? receiver.close(resolve) : resolve(undefined)));
  await db?.destroy();
  if (shots.length > 0) console.log(`screenshots:\n${shots.map((s) => `  ${s}`).join("\n")}`);
});

async function shot(page: Page, name: string): Promise<void> {
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: false });
  shots.push(path);
}

/** A fresh browser signed in with `apiKey` through a login link, at 1280×720. */
async function signedIn(
  apiKey: string,
  options: { colorScheme?: "light" | "dark"; phone?: boolean; at?: TestServer } = {},
) {
  const at = options.at ?? server;
  const context: BrowserContext = await browser.newContext({
    viewport: options.phone ? { width: 390, height: 844 } : { width: 1280, height: 720 },
    colorScheme: options.colorScheme ?? "light",
  });
  const page = await context.newPage();
  const link = await createLogbookClient({ url: at.url, apiKey, retry: false }).auth.createLoginLink.mutate();
  await page.goto(link.url);
  await page.waitForURL(`${at.url}/`);
  await page.getByRole("heading", { name: "Sessions" }).waitFor();
  return { context, page };
}

const rows = (page: Page) => page.locator("[role=row][data-session-id]");

describe("dashboard", () => {
  it("signs in through a login link and lists the fixture sessions, live", async () => {
    const { context, page } = await signedIn(server.apiKey);
    await rows(page).first().waitFor();
    const shown = await rows(page).count();
    // Top-level sessions and those waiting for the person only: any other subagent is found
    // from its parent's page (or "show subagents").
    const { items } = await client.sessions.list.query({ limit: 500, hidden: false, parentSessionId: null });
    const waiting = await client.sessions.needsYou.query({});
    const listed = new Set([...items.map((s) => s.id), ...waiting.map((w) => w.session.id)]);
    const shownIds = await rows(page).evaluateAll((els) => els.map((el) => el.getAttribute("data-session-id")));
    expect(shown).toBeGreaterThan(0);
    expect(shownIds.filter((id) => id === null || !listed.has(id))).toEqual([]);
    const all = await client.sessions.list.query({ limit: 500, hidden: false });
    expect(all.items.length).toBeGreaterThan(items.length); // the fixtures have subagents: the filter is seen
    await page.getByLabel("show subagents").check();
    await page.locator(`[role=row][data-session-id="${subagentId}"]`).waitFor();
    await page.getByLabel("show subagents").uncheck();
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

  it("the list's filters live in the address: Back from a session and a reload keep them", async () => {
    const { context, page } = await signedIn(server.apiKey);
    await rows(page).first().waitFor();
    const subagent = await client.sessions.get.query({ id: subagentId });
    const status = ["completed", "failed", "cancelled", "terminated"].includes(subagent.status) ? "ended" : "running";
    await page.getByLabel("Status").selectOption(status);
    await page.getByLabel("show subagents").check();
    await page.waitForURL(`${server.url}/?status=${status}&subagents=1`);
    const row = page.locator(`[role=row][data-session-id="${subagentId}"]`);
    await row.getByRole("link").first().click();
    await page.waitForURL(`${server.url}/sessions/${subagentId}`);
    await page.getByRole("heading", { level: 1 }).waitFor();

    await page.goBack();
    await page.waitForURL(`${server.url}/?status=${status}&subagents=1`);
    await row.waitFor();
    expect(await page.getByLabel("Status").inputValue()).toBe(status);
    expect(await page.getByLabel("show subagents").isChecked()).toBe(true);

    await page.reload();
    await row.waitFor();
    expect(await page.getByLabel("Status").inputValue()).toBe(status);
    expect(await page.getByLabel("show subagents").isChecked()).toBe(true);
    await context.close();
  });

  it("a banner says while the server cannot be reached, and goes when it answers again", async () => {
    // A server of its own (same database), so stopping it leaves the other tests' alone.
    const own = await startTestServer({ databaseUrl: db.url });
    try {
      const { context, page } = await signedIn(own.apiKey, { at: own });
      await rows(page).first().waitFor();
      const banner = page.getByRole("alert").filter({ hasText: "Cannot reach the Logbook server" });
      expect(await banner.count()).toBe(0);
      await own.kill();
      // A filter asks for a new list, which finds no server.
      await page.getByLabel("show hidden").check();
      await banner.waitFor();
      await shot(page, "server-unreachable");
      await own.restart();
      await banner.waitFor({ state: "detached" });
      // The list that failed meanwhile is loaded again, without a reload.
      await rows(page).first().waitFor();
      expect(await page.locator(".state.error").count()).toBe(0);
      await context.close();
    } finally {
      await own.stop();
    }
  });

  it("one request that gets no answer does not raise the banner: /health answers, so the server is there", async () => {
    const { context, page } = await signedIn(server.apiKey);
    await rows(page).first().waitFor();
    // Every banner that ever appears is noted, however briefly it stays.
    await page.evaluate(() => {
      const seen = window as unknown as { bannerSeen: boolean };
      seen.bannerSeen = false;
      new MutationObserver((records) => {
        for (const record of records) {
          for (const node of Array.from(record.addedNodes)) {
            if (
              node instanceof Element &&
              (node.matches(".unreachable-banner") || node.querySelector(".unreachable-banner"))
            ) {
              seen.bannerSeen = true;
            }
          }
        }
      }).observe(document.body, { childList: true, subtree: true });
    });
    // The next list request is dropped on its way (as by a flaky network); nothing else is.
    let dropped = 0;
    await page.route(
      (url) => url.pathname.startsWith("/trpc/") && url.pathname.includes("sessions.list"),
      async (route) => {
        dropped += 1;
        await route.abort("failed");
      },
      { times: 1 },
    );
    const probed = page.waitForResponse((response) => new URL(response.url()).pathname === "/health");
    // The dropped request has no response: the first is the list's own retry.
    const retried = page.waitForResponse((response) => response.url().includes("sessions.list") && response.ok());
    await page.getByLabel("show hidden").check();
    const bannerSeen = () => page.evaluate(() => (window as unknown as { bannerSeen: boolean }).bannerSeen);
    await retried;
    expect(dropped).toBe(1);
    expect(await bannerSeen()).toBe(false);
    // The failure was checked with the server (it answered), not taken for its absence.
    expect((await probed).status()).toBe(200);
    await page.waitForURL(`${server.url}/?hidden=1`);
    await rows(page).first().waitFor();
    expect(await bannerSeen()).toBe(false);
    await context.close();
  });

  it("a live stream that drops raises the banner with no call made, and the server's return takes it away", async () => {
    const own = await startTestServer({ databaseUrl: db.url });
    try {
      const { context, page } = await signedIn(own.apiKey, { at: own });
      await rows(page).first().waitFor();
      await page.locator(".live-pending").waitFor();
      const banner = page.getByRole("alert").filter({ hasText: "Cannot reach the Logbook server" });
      await own.kill();
      // Nothing is clicked: only the sessions stream notices that the server went away.
      await banner.waitFor();
      await own.restart();
      await banner.waitFor({ state: "detached" });
      await page.locator(".live-pending").waitFor();
      await context.close();
    } finally {
      await own.stop();
    }
  });

  it("the page has an icon: no failed favicon request, no error in the console", async () => {
    const { context, page } = await signedIn(server.apiKey);
    const failed: string[] = [];
    const consoleErrors: string[] = [];
    page.on("response", (response) => {
      if (response.status() >= 400) failed.push(`${response.status()} ${response.url()}`);
    });
    page.on("console", (message) => {
      if (message.type() === "error") consoleErrors.push(message.text());
    });
    await page.goto(`${server.url}/`);
    await rows(page).first().waitFor();
    // The icon the page declares is a real image: a browser asks for /favicon.ico (the server's
    // 404, an error in its console) when the page declares none. Headless Chromium may not ask
    // for icons at all, so the declaration itself is what is checked.
    const icon = await page.evaluate(async () => {
      const link = document.querySelector<HTMLLinkElement>("link[rel=icon]");
      if (!link) return null;
      const image = new Image();
      image.src = link.href;
      await image.decode();
      return { width: image.naturalWidth, height: image.naturalHeight };
    });
    expect(icon).not.toBeNull();
    expect(icon?.width).toBeGreaterThan(0);
    expect(failed).toEqual([]);
    expect(consoleErrors).toEqual([]);
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

  it("a subagent's page leads back to its parent session", async () => {
    const { context, page } = await signedIn(server.apiKey);
    await page.goto(`${server.url}/sessions/${subagentId}`);
    const crumbs = page.getByRole("navigation", { name: "Breadcrumb" });
    const parentLink = crumbs.getByTestId("parent-session");
    await parentLink.waitFor();
    expect(await parentLink.getAttribute("href")).toBe(`/sessions/${parent.id}`);
    await shot(page, "session-subagent");
    await parentLink.click();
    await page.waitForURL(`${server.url}/sessions/${parent.id}`);
    // The parent is top-level: only the list above it.
    await page.getByTestId("subagent-tree").waitFor();
    expect(await crumbs.getByRole("link").allTextContents()).toEqual(["Sessions"]);
    await context.close();
  });

  it("a session's address takes the agent's own id too, and becomes Logbook's", async () => {
    const { context, page } = await signedIn(server.apiKey);
    await page.goto(`${server.url}/sessions/${encodeURIComponent(parent.externalId)}?event=none`);
    await page.waitForURL(`${server.url}/sessions/${parent.id}?event=none`);
    await page.getByTestId("subagent-tree").waitFor();
    // An id that is neither says the session was not found.
    const unknown = randomUUID();
    await page.goto(`${server.url}/sessions/${unknown}`);
    await page
      .getByRole("alert")
      .filter({ hasText: `session ${unknown} was not found` })
      .waitFor();
    await context.close();
  });

  it("the messages tab says what an assistant turn without text did, instead of an empty row", async () => {
    const externalId = `e2e-messages-${randomUUID()}`;
    await client.ingest([{ externalSessionId: externalId, eventType: "note", message: "start" }]);
    const session = await client.sessions.get.query({ externalId });
    await client.messages.append.mutate({ sessionId: session.id, role: "user", text: "list the files" });
    await client.messages.append.mutate({ sessionId: session.id, role: "assistant", text: "", outputTokens: 42 });
    await client.messages.append.mutate({ sessionId: session.id, role: "assistant", text: "Two files." });
    const { context, page } = await signedIn(server.apiKey);
    await page.goto(`${server.url}/sessions/${session.id}`);
    await page.getByRole("tab", { name: "messages" }).click();
    const texts = page.locator("ol.messages li.message p");
    await texts.nth(2).waitFor();
    expect(await texts.allTextContents()).toEqual([
      "list the files",
      "No text: tool calls or thinking only (42 output tokens)",
      "Two files.",
    ]);
    await context.close();
    await client.sessions.setArchived.mutate({ id: session.id, archived: true }); // out of the later tests' list
  });

  it("a waiting session's page says what it waits for, and since when", async () => {
    const externalId = `e2e-waiting-${randomUUID()}`;
    await client.hooks.ingest.mutate({
      events: [
        {
          machineId: "e2e",
          occurredAt: new Date().toISOString(),
          payload: {
            session_id: externalId,
            hook_event_name: "Notification",
            notification_type: "permission_prompt",
            message: "Claude needs your permission to use Bash",
          },
        },
      ],
    });
    const waiting = await client.sessions.get.query({ externalId });
    const { context, page } = await signedIn(server.apiKey);
    await page.goto(`${server.url}/sessions/${waiting.id}`);
    const reason = page.getByTestId("status-reason");
    await reason.waitFor();
    // In words; the code it is stored with is kept in the title.
    expect(await reason.textContent()).toMatch(
      /^ waiting for your permission: Claude needs your permission to use Bash \(since .+\)$/,
    );
    expect(await reason.getAttribute("title")).toBe("permission_prompt");

    // Without a reload: the header follows the session back to work, and a subagent that
    // starts inside it joins the tree.
    const hook = (payload: Record<string, unknown>) =>
      client.hooks.ingest.mutate({
        events: [
          { machineId: "e2e", occurredAt: new Date().toISOString(), payload: { session_id: externalId, ...payload } },
        ],
      });
    await hook({
      hook_event_name: "PreToolUse",
      tool_name: "Bash",
      tool_input: { command: "ls" },
      tool_use_id: "tu-e2e",
    });
    await page.locator(".session-head .badge.status-active").waitFor({ timeout: 5_000 });
    expect(await reason.count()).toBe(0);
    await hook({ hook_event_name: "SubagentStart", agent_id: "e2e-sub", agent_type: "code-reviewer" });
    await page.getByTestId("subagent-tree").getByText("code-reviewer").waitFor({ timeout: 5_000 });
    await context.close();
    await client.sessions.setArchived.mutate({ id: waiting.id, archived: true }); // out of the later tests' list
  });

  it("a session's page and an opened event say what was changed on the way in: secrets redacted, characters stored as U+FFFD", async () => {
    const externalId = `e2e-changed-${randomUUID()}`;
    const token = `ghp_${"a1B2c3D4e5".repeat(4)}`;
    await client.hooks.ingest.mutate({
      events: [
        {
          machineId: "e2e",
          payload: {
            session_id: externalId,
            hook_event_name: "PostToolUse",
            tool_name: "Read",
            tool_input: { file_path: "/tmp/blob.bin" },
            tool_response: { content: `token ${token} then \u0000\u0000 and \ud800` },
          },
        },
      ],
    });
    const session = await client.sessions.get.query({ externalId });
    expect(session).toMatchObject({ redactions: 1, replacedCharacters: 3 });
    const { context, page } = await signedIn(server.apiKey);
    await page.goto(`${server.url}/sessions/${session.id}`);
    const changed = page.getByTestId("changed-on-way-in");
    await changed.waitFor();
    expect(await changed.textContent()).toBe("1 secret redacted · 3 characters stored as U+FFFD");
    await page.locator("li.entry .entry-head").first().click();
    const caption = page.locator(".payloads figcaption").first();
    await caption.waitFor();
    expect(await caption.textContent()).toBe("call (1 secret redacted · 3 characters stored as U+FFFD)");
    expect(await page.locator(".payloads pre").first().textContent()).not.toContain(token);
    await shot(page, "session-changed-on-way-in");
    await context.close();
    await client.sessions.setArchived.mutate({ id: session.id, archived: true }); // out of the later tests' list
  });

  it("search: / focuses the box, snippets mark the words (as text), filters and paging, jump opens the timeline at the event", async () => {
    // A session longer than one timeline page (300 events), the searched event far down it.
    const externalId = `e2e-search-${randomUUID()}`;
    const targetAt = 900;
    const events = Array.from({ length: 1_000 }, (_, i) => ({
      externalSessionId: externalId,
      eventType: "note",
      message:
        i === targetAt
          ? "the zanzibarquokka answer: R&amp;D <img src=x onerror=\"document.title='owned'\">"
          : i < 30
            ? `step ${i} pagingword`
            : `step ${i}`,
    }));
    const { ids } = await client.ingest(events);
    const targetId = expectDefined(ids[targetAt], "the target's id");
    const session = await client.sessions.get.query({ externalId });

    const { context, page } = await signedIn(server.apiKey);
    await page.keyboard.press("/");
    const box = page.getByRole("searchbox", { name: "Search events" });
    expect(await box.evaluate((el) => el === document.activeElement)).toBe(true);
    await box.fill("zanzibarquokka");
    await box.press("Enter");
    await page.waitForURL(`${server.url}/search?q=zanzibarquokka`);
    const hit = page.locator("li.hit");
    await hit.first().waitFor();
    expect(await hit.count()).toBe(1);
    expect(await hit.locator(".snippet mark").allTextContents()).toEqual(["zanzibarquokka"]);
    // The snippet is drawn as text, exactly as the API gives it: an entity stays as typed,
    // markup is never parsed (the server's snippet drops tags; an img would run its onerror).
    const api = await client.events.search.query({ query: "zanzibarquokka" });
    const parts = expectDefined(api.items[0], "the API's hit").snippet;
    expect(parts.map((p) => p.text).join("")).toContain("R&amp;D");
    expect(await hit.locator(".snippet").textContent()).toBe(parts.map((p) => p.text).join(""));
    expect(await page.locator(".snippet img").count()).toBe(0);
    expect(await page.title()).not.toBe("owned");
    await shot(page, "search");

    // Jump: the session page loads timeline pages by cursor until the event is among them,
    // then scrolls it into the middle of the list and marks it.
    await hit.getByRole("link", { name: /^Jump to this note event/ }).click();
    await page.waitForURL(`${server.url}/sessions/${session.id}?event=${targetId}`);
    const target = page.locator(`li.entry.target[data-event-id="${targetId}"]`);
    await target.waitFor();
    expect(await target.getAttribute("aria-current")).toBe("true");
    expect(await target.getAttribute("data-index")).toBe(String(targetAt));
    const list = expectDefined(await page.getByTestId("timeline").boundingBox(), "the timeline's box");
    const row = expectDefined(await target.boundingBox(), "the target's box");
    expect(row.y).toBeGreaterThanOrEqual(list.y);
    expect(row.y + row.height).toBeLessThanOrEqual(list.y + list.height);
    await shot(page, "search-jump");
    // On a phone the header fills the first screen and the list starts below the fold: the
    // window is scrolled to the event too (not only the list), and the event has the focus.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.reload();
    await page.waitForFunction((id) => document.activeElement?.getAttribute("data-event-id") === id, targetId);
    const onPhone = expectDefined(await target.boundingBox(), "the target's box on a phone");
    expect(onPhone.y).toBeGreaterThanOrEqual(0);
    expect(onPhone.y + onPhone.height).toBeLessThanOrEqual(844);
    await shot(page, "search-jump-phone");
    await page.setViewportSize({ width: 1280, height: 720 });

    // Paging: 30 events carry the word, 25 come first.
    await page.goto(`${server.url}/search?q=pagingword`);
    await hit.first().waitFor();
    expect(await hit.count()).toBe(25);
    await page.getByRole("button", { name: "More results" }).click();
    await hit.nth(29).waitFor();
    expect(await hit.count()).toBe(30);
    expect(await page.getByRole("button", { name: "More results" }).count()).toBe(0);

    // Filters: an event type none of them has, then a time window the server refuses (4xx, said why).
    const types = page.getByLabel("Event types", { exact: true });
    await types.fill("Stop");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await page.waitForURL(`${server.url}/search?q=pagingword&types=Stop`);
    await page.getByText("No event matches").waitFor();
    await types.fill("note");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await hit.nth(24).waitFor();
    await page.getByLabel("From", { exact: true }).fill("2026-12-02");
    await page.getByLabel("To", { exact: true }).fill("2026-12-01");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await page.getByRole("alert").filter({ hasText: "must be later than from" }).waitFor();
    await context.close();
  });

  it("search: a later page that fails keeps the results shown, says which page failed, and Try again loads it", async () => {
    const externalId = `e2e-search-fail-${randomUUID()}`;
    await client.ingest(
      Array.from({ length: 30 }, (_, i) => ({
        externalSessionId: externalId,
        eventType: "note",
        message: `step ${i} failpageword`,
      })),
    );
    const { context, page } = await signedIn(server.apiKey);
    await page.goto(`${server.url}/search?q=failpageword`);
    const hit = page.locator("li.hit");
    await hit.nth(24).waitFor();
    // The connection drops for the second page, at every try (the client asks again twice
    // after a network failure); the first page's results stay what was shown.
    let dropped = 0;
    const nextPage = (url: URL) => {
      if (!url.pathname.endsWith("/trpc/events.search")) return false;
      const input = JSON.parse(url.searchParams.get("input") ?? "{}") as Record<string, { cursor?: unknown }>;
      return Object.values(input).some((call) => call.cursor !== undefined && call.cursor !== null);
    };
    await page.route(nextPage, (route) => {
      dropped += 1;
      return route.abort("connectionreset");
    });
    await page.getByRole("button", { name: "More results" }).click();
    const failure = page.getByRole("alert").filter({ hasText: "Could not load more results." });
    await failure.waitFor();
    expect(dropped).toBeGreaterThan(0);
    expect(await hit.count()).toBe(25);
    expect(await page.getByRole("button", { name: "More results" }).count()).toBe(0);
    await shot(page, "search-page-failed");

    // The connection is back: Try again asks for that page, which joins the ones shown.
    await page.unroute(nextPage);
    await failure.getByRole("button", { name: "Try again" }).click();
    await hit.nth(29).waitFor();
    expect(await hit.count()).toBe(30);
    expect(await failure.count()).toBe(0);
    await context.close();
  });

  it("export buttons download the session as the API exports it, in every format", async () => {
    const { context, page } = await signedIn(server.apiKey);
    await page.goto(`${server.url}/sessions/${parent.id}`);
    for (const [format, label] of [
      ["md", "Markdown"],
      ["json", "JSON"],
      ["jsonl", "JSONL transcript"],
    ] as const) {
      const [download] = await Promise.all([
        page.waitForEvent("download"),
        page.getByRole("button", { name: `Export as ${label}`, exact: true }).click(),
      ]);
      const expected = await client.sessions.export.query({ id: parent.id, format });
      expect(download.suggestedFilename()).toBe(expected.fileName);
      expect(await readFile(await download.path(), "utf8")).toBe(expected.content);
    }
    await shot(page, "session-export");
    await context.close();
  });

  it("webhooks: add (the secret shown once), send a test and see its delivery, disable, delete", async () => {
    // Webhooks are an admin's: the view, and every procedure (reads included).
    const adminKey = await server.createKey(["admin"], "e2e-admin");
    const admin = createLogbookClient({ url: server.url, apiKey: adminKey, retry: false });
    const { context, page } = await signedIn(adminKey);
    await page.getByRole("link", { name: "Webhooks" }).click();
    await page.getByRole("heading", { name: "Webhooks", level: 1 }).waitFor();
    await page.getByText("No webhooks yet").waitFor();

    // A bad address is refused with the server's reason, and nothing is stored.
    const url = page.getByLabel("Receiver URL");
    await url.fill("ftp://example.com/hook");
    await page.getByRole("button", { name: "Add webhook" }).click();
    await page.getByRole("alert").filter({ hasText: "http:// or https://" }).waitFor();
    expect(await admin.webhooks.list.query()).toEqual([]);

    const port = (receiver.address() as AddressInfo).port;
    const address = `http://127.0.0.1:${port}/hooks/e2e`;
    await url.fill(address);
    await page.getByLabel("Name (optional)").fill("e2e receiver");
    await page.getByRole("button", { name: "Add webhook" }).click();
    const secret = page.getByTestId("webhook-secret");
    await secret.waitFor();
    const shown = expectDefined(await secret.textContent(), "the secret");
    expect(shown.length).toBeGreaterThan(20);
    const [stored] = await admin.webhooks.list.query();
    expect(stored).toMatchObject({ name: "e2e receiver", url: address, enabled: true });
    expect(JSON.stringify(stored)).not.toContain(shown);
    await shot(page, "webhooks-secret");
    await page.getByRole("button", { name: "I have saved it" }).click();
    expect(await secret.count()).toBe(0);

    const item = page.locator(`li.webhook[data-webhook-id="${expectDefined(stored).id}"]`);
    await item.getByRole("button", { name: "Send a test to e2e receiver" }).click();
    await item.locator("tr[data-delivery-status=delivered]").waitFor();
    expect(await item.locator("tr[data-delivery-status=delivered]").textContent()).toContain("HTTP 204");
    expect(received.some((r) => r.event === "webhook.test" && r.signature !== undefined)).toBe(true);
    await shot(page, "webhooks");

    await item.getByRole("button", { name: "Disable e2e receiver" }).click();
    await item.getByRole("button", { name: "Enable e2e receiver" }).waitFor();
    expect((await admin.webhooks.list.query())[0]?.enabled).toBe(false);

    await item.getByRole("button", { name: "Delete e2e receiver" }).click();
    await item.getByRole("button", { name: "Really delete e2e receiver" }).click();
    await page.getByText("No webhooks yet").waitFor();
    expect(await admin.webhooks.list.query()).toEqual([]);
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

  it("usage over the period chosen: a response 60 days old counts over 90 days, not over 30", async () => {
    const model = `claude-e2e-${randomUUID().slice(0, 8)}`;
    const at = new Date(Date.now() - 60 * 24 * 60 * 60 * 1000).toISOString();
    const externalId = `e2e-usage-${randomUUID()}`;
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
            model,
            role: "assistant",
            content: [{ type: "text", text: "done" }],
            usage: { input_tokens: 1200, output_tokens: 300 },
          },
        },
      },
    ]);
    const { context, page } = await signedIn(server.apiKey);
    await page.goto(`${server.url}/usage`);
    await page.getByLabel("Per").selectOption("model");
    const row = page.getByRole("rowheader", { name: model, exact: true });
    // The default period, 30 days: the per-model report has come (its table, or "no usage") without the model.
    await page.locator(".view-head .muted", { hasText: "last 30 days" }).waitFor();
    await page.locator("table caption:has-text('per model'), .state.empty").first().waitFor();
    expect(await row.count()).toBe(0);
    await page.getByLabel("Over").selectOption("last 90 days");
    await row.waitFor();
    expect(await page.locator(".view-head .muted").textContent()).toBe("last 90 days");
    await context.close();
    await client.sessions.setArchived.mutate({
      id: (await client.sessions.get.query({ externalId })).id,
      archived: true,
    });
  });

  it("usage, projects and jobs views render, and the sign-in page", async () => {
    // A job run to its end, and one still running: only the running one shows a lease.
    const type = `e2e-job-${randomUUID().slice(0, 8)}`;
    const done = await client.jobs.enqueue.mutate({ type, priority: 10 });
    const [claimedDone] = await client.jobs.claim.mutate({ workerId: "e2e-worker", types: [type] });
    expect(claimedDone?.id).toBe(done.id);
    await client.jobs.complete.mutate({ id: done.id, workerId: "e2e-worker" });
    const running = await client.jobs.enqueue.mutate({ type });
    await client.jobs.claim.mutate({ workerId: "e2e-worker", types: [type] });
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
    const worker = (id: string) => page.locator(`tr[data-job-id="${id}"] [data-testid=job-worker]`);
    expect(await worker(done.id).textContent()).toBe("ran on e2e-worker");
    expect(await worker(running.id).textContent()).toMatch(/^e2e-worker \(lease until .+\)$/);
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
