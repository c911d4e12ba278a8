import type { LogbookClient, WebhookDelivery, WebhookEvent, WebhookSubscription } from "@logbook/sdk";
import { Command, Option } from "commander";

import type { CommandContext, ContextFactory } from "../context.js";
import { oneLine } from "../format.js";
import { EXIT } from "../exit-codes.js";
import { resolveProject } from "../resolve.js";
import { formatTimestamp } from "../time.js";
import { listOf, parseLimit } from "./options.js";

const eventList = listOf("waiting_input or session.completed");

/** `--event waiting_input,completed` or `--event session.failed`, repeatable; the `session.` prefix may be left out. */
function collectEvents(value: string, previous: WebhookEvent[] = []): WebhookEvent[] {
  const events = eventList(value).map((event) => (event.includes(".") ? event : `session.${event}`));
  return [...previous, ...(events as WebhookEvent[])];
}

function printSubscriptions(context: CommandContext, subscriptions: WebhookSubscription[]): void {
  if (subscriptions.length === 0) {
    context.out.line("no webhook subscriptions (logbook webhooks add <url> --event waiting_input)");
    return;
  }
  const rows = subscriptions.map((s) => [
    s.id,
    s.enabled ? "on" : context.out.colors.yellow(s.disabledReason ? "off (auto)" : "off"),
    s.format,
    s.events.map((event) => event.replace(/^session\./, "")).join(","),
    oneLine(s.url, 60),
    s.name ?? "",
  ]);
  context.out.printTable(["id", "on", "format", "events", "url", "name"], rows, {
    shrink: [{ column: 4 }, { column: 5, min: 8 }, { column: 3 }],
    drop: [5, 2],
  });
  for (const s of subscriptions) {
    if (s.disabledReason) context.out.notice(`${s.id}: ${s.disabledReason}`);
  }
}

function deliveryLine(delivery: WebhookDelivery, zone: string): string[] {
  const last = delivery.attemptLog.at(-1);
  return [
    formatTimestamp(delivery.createdAt, zone),
    delivery.event,
    delivery.status,
    String(delivery.attempts),
    last?.statusCode === null || last === undefined ? "" : String(last.statusCode),
    oneLine(
      delivery.lastError ?? (delivery.nextAttemptAt ? `next try ${formatTimestamp(delivery.nextAttemptAt, zone)}` : ""),
      60,
    ),
  ];
}

/** Waits for the first try of a delivery (the server's worker sends it within a second or two). */
async function firstTry(
  client: LogbookClient,
  subscriptionId: string,
  deliveryId: string,
): Promise<WebhookDelivery | null> {
  for (let i = 0; i < 60; i += 1) {
    const page = await client.webhooks.deliveries.query({ subscriptionId, limit: 20 });
    const delivery = page.items.find((d) => d.id === deliveryId);
    if (delivery && delivery.attempts > 0) return delivery;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return null;
}

/**
 * `logbook webhooks list|add|remove|enable|disable|test|deliveries`: outbound webhooks
 * (docs/webhooks.md). They need a key with the admin scope.
 */
export function webhooksCommand(contexts: ContextFactory): Command {
  const webhooks = new Command("webhooks").description(
    "outbound webhooks: tell other systems when a session waits for you, completes or fails (admin key)",
  );

  webhooks
    .command("list")
    .description("every subscription (never its secret)")
    .action(async (_options: unknown, command: Command) => {
      const context = contexts.create(command);
      const subscriptions = await context.client().webhooks.list.query();
      if (context.out.json) context.out.jsonResult({ subscriptions });
      else printSubscriptions(context, subscriptions);
    });

  webhooks
    .command("add")
    .description("subscribe a receiver URL; prints the signing secret, which is shown only this once")
    .argument("<url>", "the receiver: an http(s) URL on a public address")
    .requiredOption(
      "-e, --event <events>",
      "session statuses to send, comma-separated or repeated (waiting_input, completed, failed, …)",
      collectEvents,
    )
    .option("-p, --project <project>", "only sessions of this project: its path (e.g. .) or id")
    .addOption(
      new Option("-f, --format <format>", "json, or slack for a Slack incoming webhook")
        .choices(["json", "slack"])
        .default("json"),
    )
    .option("--name <name>", "a name to tell it by")
    .option("--disabled", "create it switched off")
    .action(async (url: string, options: AddOptions, command: Command) => {
      const context = contexts.create(command);
      const client = context.client();
      const projectId = options.project === undefined ? undefined : (await resolveProject(client, options.project)).id;
      const created = await client.webhooks.create.mutate({
        url,
        events: options.event,
        format: options.format,
        ...(projectId ? { projectId } : {}),
        ...(options.name !== undefined ? { name: options.name } : {}),
        ...(options.disabled ? { enabled: false } : {}),
      });
      if (context.out.json) {
        context.out.jsonResult(created);
        return;
      }
      context.out.line(`id      ${created.subscription.id}`);
      context.out.line(`secret  ${created.secret}`);
      context.out.notice("Keep the secret now: it is shown only this once (receivers verify signatures with it).");
    });

  const setEnabled = (name: "enable" | "disable", enabled: boolean) =>
    webhooks
      .command(name)
      .description(enabled ? "switch a subscription on again (clears its failure count)" : "switch a subscription off")
      .argument("<id>", "the subscription's id")
      .action(async (id: string, _options: unknown, command: Command) => {
        const context = contexts.create(command);
        const subscription = await context.client().webhooks.update.mutate({ id, enabled });
        if (context.out.json) context.out.jsonResult({ subscription });
        else context.out.line(`${subscription.id} ${enabled ? "enabled" : "disabled"}`);
      });
  setEnabled("enable", true);
  setEnabled("disable", false);

  webhooks
    .command("remove")
    .description("delete a subscription with its deliveries")
    .argument("<id>", "the subscription's id")
    .action(async (id: string, _options: unknown, command: Command) => {
      const context = contexts.create(command);
      const subscription = await context.client().webhooks.remove.mutate({ id });
      if (context.out.json) context.out.jsonResult({ subscription });
      else context.out.line(`${subscription.id} removed`);
    });

  webhooks
    .command("test")
    .description("send a signed webhook.test delivery and show how the receiver answered")
    .argument("<id>", "the subscription's id")
    .action(async (id: string, _options: unknown, command: Command) => {
      const context = contexts.create(command);
      const client = context.client();
      const ref = await client.webhooks.test.mutate({ id });
      const delivery = await context.out.spin("waiting for the first try", () =>
        firstTry(client, ref.subscriptionId, ref.deliveryId),
      );
      const attempt = delivery?.attemptLog.at(-1);
      // A test is a check: a receiver that failed it fails the command (exit 1), in --json too.
      if (attempt && attempt.error !== null) process.exitCode = EXIT.error;
      if (context.out.json) {
        context.out.jsonResult({ ...ref, delivery });
        return;
      }
      if (!delivery) {
        context.out.line(`${ref.deliveryId} queued; no try yet (is delivery on? LOGBOOK_WEBHOOKS_POLL_MS)`);
        return;
      }
      context.out.line(
        attempt && attempt.error === null
          ? `${ref.deliveryId} delivered: ${attempt.statusCode} in ${attempt.durationMs} ms`
          : `${ref.deliveryId} failed: ${attempt?.error ?? "no answer"}${delivery.status === "pending" ? " (it will be retried)" : ""}`,
      );
    });

  webhooks
    .command("deliveries")
    .description("a subscription's recent deliveries, newest first, and how each went")
    .argument("<id>", "the subscription's id")
    .addOption(new Option("-n, --limit <n>", "at most this many (1-500)").default(20).argParser(parseLimit))
    .action(async (id: string, options: { limit: number }, command: Command) => {
      const context = contexts.create(command);
      const page = await context.client().webhooks.deliveries.query({ subscriptionId: id, limit: options.limit });
      if (context.out.json) {
        context.out.jsonResult({ deliveries: page.items });
        return;
      }
      if (page.items.length === 0) {
        context.out.line("no deliveries yet");
        return;
      }
      const zone = context.environment.timeZone;
      context.out.printTable(
        ["created", "event", "status", "tries", "last", "error / next"],
        page.items.map((delivery) => deliveryLine(delivery, zone)),
        { shrink: [{ column: 5 }], drop: [4, 3] },
      );
      context.out.notice(context.out.colors.dim(`times in ${zone}`));
    });

  for (const sub of webhooks.commands) {
    sub.exitOverride().showHelpAfterError(`(logbook webhooks ${sub.name()} --help for its options)`);
  }
  return webhooks;
}

interface AddOptions {
  event: WebhookEvent[];
  project?: string;
  format: "json" | "slack";
  name?: string;
  disabled?: boolean;
}
