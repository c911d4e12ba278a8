import { otelFixture, type OtelSignal } from "@logbook/fixtures";
import { describe, expect, it } from "vitest";

import {
  decodeExportResponse,
  decodeOtlpProtobuf,
  decodeStatus,
  encodeExportResponse,
  encodeOtlpProtobuf,
  encodeStatus,
  exportResponse,
} from "./otlp-wire.js";

const SIGNALS: OtelSignal[] = ["logs", "metrics", "traces"];

describe("OTLP protobuf wire", () => {
  it.each(SIGNALS)("the committed %s .pb fixture is its JSON twin, encoded (else run fixtures:otel)", (signal) => {
    const fixture = otelFixture(signal);
    expect(Buffer.from(encodeOtlpProtobuf(signal, fixture.json)).equals(fixture.protobuf)).toBe(true);
  });

  it.each(SIGNALS)(
    "decodes a %s request to exactly the OTLP/JSON shape (ids as hex, 64-bit integers as text)",
    (signal) => {
      const fixture = otelFixture(signal);
      expect(decodeOtlpProtobuf(signal, fixture.protobuf)).toEqual(fixture.json);
    },
  );

  it("keeps NaN and the infinities as OTLP/JSON spells them", () => {
    const request = {
      resourceMetrics: [
        {
          scopeMetrics: [{ metrics: [{ name: "m", gauge: { dataPoints: [{ timeUnixNano: "1", asDouble: "NaN" }] } }] }],
        },
      ],
    };
    const decoded = decodeOtlpProtobuf("metrics", encodeOtlpProtobuf("metrics", request));
    expect(decoded).toEqual(request);
  });

  it("refuses bytes that are not an export request", () => {
    expect(() => decodeOtlpProtobuf("logs", Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]))).toThrow();
  });

  it("answers partial success with the signal's own counter, and a Status for refusals", () => {
    expect(exportResponse("logs", 0)).toEqual({});
    const partial = exportResponse("traces", 2, "2 spans: no session.id");
    expect(partial).toEqual({ partialSuccess: { rejectedSpans: "2", errorMessage: "2 spans: no session.id" } });
    expect(decodeExportResponse("traces", encodeExportResponse("traces", partial))).toEqual(partial);
    expect(decodeStatus(encodeStatus({ code: 3, message: "bad" }))).toEqual({ code: 3, message: "bad" });
  });
});
