/**
 * A job worker process for the concurrency suite: claims one job at a time with a short
 * lease, "works" (prints `W <id>`, waits a little), completes it and prints `C <id>` when
 * the server acknowledged the completion, `X <id> <code>` when it refused it. The suite
 * SIGKILLs and SIGSTOPs these processes mid-job.
 */
import { createLogbookClient, isLogbookError } from "@logbook/sdk";

const { url, apiKey, workerId, leaseMs, workMs } = JSON.parse(process.argv[2] ?? "{}") as {
  url: string;
  apiKey: string;
  workerId: string;
  leaseMs: number;
  workMs: number;
};
const client = createLogbookClient({ url, apiKey, batch: false });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (;;) {
  let jobs;
  try {
    jobs = await client.jobs.claim.mutate({ workerId, types: ["rel.work"], limit: 1, leaseMs });
  } catch (error) {
    process.stdout.write(`E claim ${isLogbookError(error) ? error.code : String(error)}\n`);
    await sleep(200);
    continue;
  }
  const job = jobs[0];
  if (!job) {
    process.stdout.write("I\n");
    await sleep(100);
    continue;
  }
  process.stdout.write(`W ${job.id}\n`);
  await sleep(workMs / 2 + Math.random() * workMs);
  try {
    await client.jobs.complete.mutate({ id: job.id, workerId, result: { by: workerId } });
    process.stdout.write(`C ${job.id}\n`);
  } catch (error) {
    process.stdout.write(`X ${job.id} ${isLogbookError(error) ? error.code : String(error)}\n`);
  }
}
