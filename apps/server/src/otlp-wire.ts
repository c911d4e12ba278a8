import { createRequire } from "node:module";

import type { OtlpSignal } from "@logbook/contracts";
import protobuf from "protobufjs";

/**
 * OTLP's protobuf encoding, through the OpenTelemetry project's own definitions: the
 * protobufjs module @opentelemetry/otlp-transformer generated from the official
 * opentelemetry-proto files (its package declares it only as a `Root`, so the few calls we
 * make are typed here). A decoded request is brought to the OTLP/JSON shape (64-bit
 * integers as decimal text, enums as numbers, trace and span ids as hex), so JSON and
 * protobuf bodies meet one contract afterwards.
 */

interface MessageType {
  decode(reader: Uint8Array): object;
  encode(message: object): { finish(): Uint8Array };
  fromObject(object: Record<string, unknown>): object;
  toObject(message: object, options: protobuf.IConversionOptions): Record<string, unknown>;
}

interface ServiceTypes {
  Request: MessageType;
  Response: MessageType;
}

const require = createRequire(import.meta.url);
const root = require("@opentelemetry/otlp-transformer/build/src/generated/root") as {
  opentelemetry: {
    proto: {
      collector: {
        logs: { v1: { ExportLogsServiceRequest: MessageType; ExportLogsServiceResponse: MessageType } };
        metrics: { v1: { ExportMetricsServiceRequest: MessageType; ExportMetricsServiceResponse: MessageType } };
        trace: { v1: { ExportTraceServiceRequest: MessageType; ExportTraceServiceResponse: MessageType } };
      };
    };
  };
};
const collector = root.opentelemetry.proto.collector;

const SERVICES: Record<OtlpSignal, ServiceTypes> = {
  logs: { Request: collector.logs.v1.ExportLogsServiceRequest, Response: collector.logs.v1.ExportLogsServiceResponse },
  metrics: {
    Request: collector.metrics.v1.ExportMetricsServiceRequest,
    Response: collector.metrics.v1.ExportMetricsServiceResponse,
  },
  traces: {
    Request: collector.trace.v1.ExportTraceServiceRequest,
    Response: collector.trace.v1.ExportTraceServiceResponse,
  },
};

/** The protobuf message name of each signal's request, for error messages. */
export const REQUEST_MESSAGE: Record<OtlpSignal, string> = {
  logs: "ExportLogsServiceRequest",
  metrics: "ExportMetricsServiceRequest",
  traces: "ExportTraceServiceRequest",
};

/** What each signal's partial success counts. */
export const REJECTED_FIELD: Record<OtlpSignal, string> = {
  logs: "rejectedLogRecords",
  metrics: "rejectedDataPoints",
  traces: "rejectedSpans",
};

type Json = Record<string, unknown>;
const ID_FIELDS = ["traceId", "spanId", "parentSpanId"] as const;

/** Applies `convert` to the trace/span id fields of every log record, span and span link. */
function mapIds(signal: OtlpSignal, request: Json, convert: (value: unknown) => unknown): Json {
  const each = (list: unknown, visit: (item: Json) => void) => {
    if (Array.isArray(list)) for (const item of list) if (item && typeof item === "object") visit(item as Json);
  };
  const fix = (item: Json) => {
    for (const field of ID_FIELDS) if (field in item) item[field] = convert(item[field]);
  };
  if (signal === "logs") each(request.resourceLogs, (rl) => each(rl.scopeLogs, (sl) => each(sl.logRecords, fix)));
  if (signal === "traces")
    each(request.resourceSpans, (rs) =>
      each(rs.scopeSpans, (ss) =>
        each(ss.spans, (span) => {
          fix(span);
          each(span.links, fix);
        }),
      ),
    );
  return request;
}

/**
 * Decodes a protobuf export request into the OTLP/JSON shape. Throws (a protobufjs error)
 * when the bytes are not such a message.
 */
export function decodeOtlpProtobuf(signal: OtlpSignal, body: Uint8Array): Json {
  const { Request } = SERVICES[signal];
  const object = Request.toObject(Request.decode(body), {
    longs: String,
    enums: Number,
    bytes: String,
    // NaN and the infinities as the strings OTLP/JSON uses.
    json: true,
  });
  return mapIds(signal, object, (value) =>
    typeof value === "string" ? Buffer.from(value, "base64").toString("hex") : value,
  );
}

/** Encodes an OTLP/JSON-shaped export request as protobuf (fixtures, tests, clients). */
export function encodeOtlpProtobuf(signal: OtlpSignal, request: Json): Uint8Array {
  const { Request } = SERVICES[signal];
  const copy = mapIds(signal, structuredClone(request), (value) =>
    typeof value === "string" ? Buffer.from(value, "hex") : value,
  );
  return Request.encode(Request.fromObject(copy)).finish();
}

/** The export response: empty on full success, else `partialSuccess` with what was refused and why. */
export function exportResponse(signal: OtlpSignal, rejected: number, errorMessage?: string): Json {
  if (rejected === 0 && !errorMessage) return {};
  return {
    partialSuccess: {
      [REJECTED_FIELD[signal]]: String(rejected),
      ...(errorMessage ? { errorMessage } : {}),
    },
  };
}

export function encodeExportResponse(signal: OtlpSignal, response: Json): Uint8Array {
  const { Response } = SERVICES[signal];
  return Response.encode(Response.fromObject(response)).finish();
}

export function decodeExportResponse(signal: OtlpSignal, body: Uint8Array): Json {
  const { Response } = SERVICES[signal];
  return Response.toObject(Response.decode(body), { longs: String, enums: Number, json: true });
}

/**
 * `google.rpc.Status`, the body OTLP/HTTP gives a refused protobuf request. The generated
 * module does not carry it; its two fields we fill are declared here (field numbers as in
 * google/rpc/status.proto).
 */
const Status = new protobuf.Root()
  .define("google.rpc")
  .add(
    new protobuf.Type("Status")
      .add(new protobuf.Field("code", 1, "int32"))
      .add(new protobuf.Field("message", 2, "string")),
  )
  .lookupType("Status");

export function encodeStatus(status: { code: number; message: string }): Uint8Array {
  return Status.encode(Status.fromObject(status)).finish();
}

export function decodeStatus(body: Uint8Array): { code: number; message: string } {
  const decoded = Status.toObject(Status.decode(body), { defaults: true }) as { code: number; message: string };
  return { code: decoded.code, message: decoded.message };
}

/** The gRPC status code OTLP pairs with an HTTP status in a Status body. */
export function grpcCodeOf(httpStatus: number): number {
  if (httpStatus === 400 || httpStatus === 415) return 3; // INVALID_ARGUMENT
  if (httpStatus === 401) return 16; // UNAUTHENTICATED
  if (httpStatus === 403) return 7; // PERMISSION_DENIED
  if (httpStatus === 404) return 5; // NOT_FOUND
  if (httpStatus === 413 || httpStatus === 429) return 8; // RESOURCE_EXHAUSTED
  if (httpStatus === 503) return 14; // UNAVAILABLE
  return 13; // INTERNAL
}
