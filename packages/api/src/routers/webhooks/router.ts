import {
  createdWebhook,
  createWebhookInput,
  idInput,
  listWebhookDeliveriesInput,
  testWebhookInput,
  updateWebhookInput,
  webhookDeliveryPage,
  webhookDeliveryRef,
  webhookSubscription,
} from "@logbook/contracts";
import { z } from "zod";

import { adminProcedure, createTRPCRouter } from "../../trpc.js";

/**
 * Outbound webhooks (docs/webhooks.md). Admin only, reads included: a receiver URL is often a
 * secret itself (a Slack incoming webhook's address is its credential), and creating one
 * makes the server send requests out.
 */
export const webhooksRouter = createTRPCRouter({
  /** The answer holds the signing secret: the only time it is ever shown. */
  create: adminProcedure
    .input(createWebhookInput)
    .output(createdWebhook)
    .mutation(({ ctx, input }) => ctx.services.webhooks.create(input)),

  /** Every subscription, never with its secret. */
  list: adminProcedure
    .input(z.void())
    .output(z.array(webhookSubscription))
    .query(({ ctx }) => ctx.services.webhooks.list()),

  get: adminProcedure
    .input(idInput)
    .output(webhookSubscription)
    .query(({ ctx, input }) => ctx.services.webhooks.get(input)),

  update: adminProcedure
    .input(updateWebhookInput)
    .output(webhookSubscription)
    .mutation(({ ctx, input }) => ctx.services.webhooks.update(input)),

  remove: adminProcedure
    .input(idInput)
    .output(webhookSubscription)
    .mutation(({ ctx, input }) => ctx.services.webhooks.remove(input)),

  /** Queues a signed `webhook.test` delivery; its outcome shows in `deliveries`. */
  test: adminProcedure
    .input(testWebhookInput)
    .output(webhookDeliveryRef)
    .mutation(({ ctx, input }) => ctx.services.webhooks.test(input)),

  /** A subscription's deliveries, newest first, each with every try. */
  deliveries: adminProcedure
    .input(listWebhookDeliveriesInput)
    .output(webhookDeliveryPage)
    .query(({ ctx, input }) => ctx.services.webhooks.deliveries(input)),
});
