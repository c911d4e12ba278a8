/**
 * Writes the protobuf twins of the OTLP/JSON fixtures (tooling/fixtures/otel/*.pb) with the
 * server's own encoder (the OpenTelemetry project's generated definitions). Run after
 * changing a JSON fixture: `pnpm --filter @logbook/server fixtures:otel`. The wire test
 * fails while a .pb and its JSON disagree.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";

import { OTEL_FIXTURES_DIR, otelFixture, type OtelSignal } from "@logbook/fixtures";

import { encodeOtlpProtobuf } from "../otlp-wire.js";

for (const signal of ["logs", "metrics", "traces"] as OtelSignal[]) {
  const path = join(OTEL_FIXTURES_DIR, `claude-code-${signal}.pb`);
  writeFileSync(path, encodeOtlpProtobuf(signal, otelFixture(signal).json));
  console.log(`wrote ${path}`);
}
