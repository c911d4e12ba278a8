/**
 * BODY_BUDGET_BYTES: the request-body bytes the server holds at once across requests. A
 * request that does not fit is answered 503 with Retry-After at once (its body read and
 * thrown away); once the bytes in flight are released, it is admitted again.
 */
import { request } from "node:http";

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { startHarness, type Harness } from "./harness.js";

const BUDGET = 1024 * 1024;
const BODY = 700 * 1024;

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ env: { BODY_BUDGET_BYTES: String(BUDGET) } });
});
afterAll(() => h?.stop());

function hookBody(size: number): Buffer {
  const base = JSON.stringify({ session_id: "budget", hook_event_name: "Notification", message: "" });
  return Buffer.from(base.replace('"message":""', `"message":"${"x".repeat(size - base.length)}"`));
}

async function post(body: Buffer): Promise<Response> {
  return fetch(`${h.server.url}/hooks/claude-code`, {
    method: "POST",
    headers: { authorization: `Bearer ${h.server.apiKey}`, "content-type": "application/json" },
    body,
  });
}

/** A post that declares its length and sends half its body: it holds its reservation, if admitted. */
function slowPost(body: Buffer): { sent: Promise<void>; finish(): Promise<number> } {
  let answered: (status: number) => void = () => undefined;
  const status = new Promise<number>((resolve) => (answered = resolve));
  const req = request(`${h.server.url}/hooks/claude-code`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${h.server.apiKey}`,
      "content-type": "application/json",
      "content-length": body.length,
    },
  });
  req.on("response", (res) => {
    res.resume();
    answered(res.statusCode ?? 0);
  });
  req.on("error", () => answered(0));
  const sent = new Promise<void>((resolve) => req.write(body.subarray(0, body.length / 2), () => resolve()));
  return {
    sent,
    finish: () => {
      req.end(body.subarray(body.length / 2));
      return status;
    },
  };
}

describe("the body budget", () => {
  it("answers 503 with Retry-After to a body that does not fit beside one in flight, and admits it afterwards", async () => {
    // The held post and the probe race to the server: when the probe wins, both finish and
    // the pair is tried again, until the held post is in first.
    let refused: Response | null = null;
    let held: ReturnType<typeof slowPost> | null = null;
    for (let i = 0; i < 100 && !refused; i++) {
      held = slowPost(hookBody(BODY));
      // Its headers and half its body out of this process before the probe starts: the probe,
      // on a warm keep-alive connection, won every race on a loaded machine otherwise.
      await held.sent;
      const response = await post(hookBody(BODY));
      if (response.status === 503) refused = response;
      else {
        expect(response.status).toBe(200);
        await response.arrayBuffer();
        await held.finish();
      }
    }
    expect(refused?.status).toBe(503);
    expect(Number(refused?.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(((await expectDefined(refused).json()) as { error: { message: string } }).error.message).toMatch(
      /BODY_BUDGET_BYTES/,
    );
    // A small body still fits beside the held one.
    expect((await post(hookBody(2_000))).status).toBe(200);

    expect(await expectDefined(held).finish()).toBe(200);
    // Released: the same large body is admitted now (the release happens when the response closes).
    let status = 0;
    for (let i = 0; i < 200 && status !== 200; i++) {
      const response = await post(hookBody(BODY));
      status = response.status;
      await response.arrayBuffer();
    }
    expect(status).toBe(200);
  });
});
