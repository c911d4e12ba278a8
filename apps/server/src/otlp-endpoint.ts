import type { IncomingMessage, ServerResponse } from "node:http";
import { promisify } from "node:util";
import { gunzip } from "node:zlib";

import {
  accessError,
  createContextInner,
  describeError,
  retryAfterSeconds,
  toHttpErrorBody,
  type ApiDeps,
} from "@logbook/api";
import {
  exportLogsRequest,
  exportMetricsRequest,
  exportTraceRequest,
  jsonObject,
  type OtlpExportResult,
  type OtlpSignal,
} from "@logbook/contracts";
import { AppError, invalidInputFrom } from "@logbook/core";
import type { z } from "zod";

import { BodyTooLargeError, readBody } from "./body.js";
import { inexactNumberError } from "./exact-numbers.js";
import type { Logger } from "./logger.js";
import {
  decodeOtlpProtobuf,
  encodeExportResponse,
  encodeStatus,
  exportResponse,
  grpcCodeOf,
  REQUEST_MESSAGE,
} from "./otlp-wire.js";

const gunzipAsync = promisify(gunzip);

type Encoding = "json" | "protobuf";

const MEDIA_TYPES: Record<string, Encoding> = {
  "application/json": "json",
  "application/x-protobuf": "protobuf",
};

/** OTLP/HTTP's paths and the signal each takes. */
export const OTLP_PATHS: Record<string, OtlpSignal> = {
  "/v1/logs": "logs",
  "/v1/metrics": "metrics",
  "/v1/traces": "traces",
};

/** A refusal that is not one of the API's error codes (OTLP asks for 415 on a media type it cannot read). */
class UnsupportedMediaType extends Error {}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function encodingOf(req: IncomingMessage): Encoding {
  const type = (header(req, "content-type") ?? "").replace(/;.*/s, "").trim().toLowerCase();
  const encoding = MEDIA_TYPES[type];
  if (!encoding)
    throw new UnsupportedMediaType(
      `content-type ${type ? `'${type}'` : "(none)"} is not OTLP/HTTP: send application/json or application/x-protobuf`,
    );
  return encoding;
}

/** The body, gunzipped when it says so; the limit holds for what it inflates to as well. */
async function bodyOf(req: IncomingMessage, limit: number): Promise<Buffer> {
  const coding = (header(req, "content-encoding") ?? "identity").trim().toLowerCase();
  if (coding !== "identity" && coding !== "gzip")
    throw new UnsupportedMediaType(`content-encoding '${coding}' is not supported: send gzip or no encoding`);
  const body = await readBody(req, limit);
  if (coding === "identity") return body;
  try {
    return await gunzipAsync(body, { maxOutputLength: limit });
  } catch (error) {
    if ((error as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") throw new BodyTooLargeError(limit);
    throw new AppError("INVALID_INPUT", `the body is not valid gzip: ${(error as Error).message}`);
  }
}

function decode(signal: OtlpSignal, encoding: Encoding, body: Buffer): Record<string, unknown> {
  let raw: unknown;
  if (encoding === "json") {
    const text = body.toString("utf8");
    try {
      raw = JSON.parse(text);
    } catch (error) {
      throw new AppError("INVALID_INPUT", `the body is not valid JSON: ${(error as Error).message}`);
    }
    const inexact = inexactNumberError(text);
    if (inexact) throw inexact;
  } else {
    try {
      raw = decodeOtlpProtobuf(signal, body);
    } catch (error) {
      throw new AppError(
        "INVALID_INPUT",
        `the body is not a protobuf ${REQUEST_MESSAGE[signal]}: ${(error as Error).message}`,
      );
    }
  }
  // Depth first (iteratively), so a hostile nesting is refused before the recursive contract walks it.
  const shape = jsonObject().safeParse(raw);
  if (!shape.success) throw invalidInputFrom(shape.error, `OTLP ${signal} request`);
  return shape.data;
}

function parse<T extends z.ZodType>(schema: T, raw: unknown, signal: OtlpSignal): z.output<T> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw invalidInputFrom(parsed.error, `OTLP ${signal} request`);
  return parsed.data;
}

function send(
  res: ServerResponse,
  status: number,
  encoding: Encoding,
  signal: OtlpSignal,
  body: Record<string, unknown>,
) {
  const bytes =
    encoding === "protobuf"
      ? Buffer.from(
          status === 200 ? encodeExportResponse(signal, body) : encodeStatus(body as { code: number; message: string }),
        )
      : Buffer.from(JSON.stringify(body));
  res.writeHead(status, {
    "content-type": encoding === "protobuf" ? "application/x-protobuf" : "application/json; charset=utf-8",
    "content-length": bytes.length,
  });
  res.end(bytes);
}

/**
 * A refusal, as OTLP/HTTP asks: a `google.rpc.Status` (code and message) in the request's
 * encoding. A JSON answer also carries the API's usual `error` object beside it.
 */
function sendFailure(
  res: ServerResponse,
  encoding: Encoding,
  signal: OtlpSignal,
  error: unknown,
  logger: Logger,
  route: string,
): void {
  if (error instanceof UnsupportedMediaType) {
    const body = { code: grpcCodeOf(415), message: error.message };
    return send(res, 415, encoding, signal, {
      ...body,
      ...(encoding === "json"
        ? { error: { message: error.message, code: "UNSUPPORTED_MEDIA_TYPE", httpStatus: 415 } }
        : {}),
    });
  }
  if (error instanceof BodyTooLargeError) {
    if (!error.drained) res.setHeader("connection", "close");
    error = new AppError("PAYLOAD_TOO_LARGE", `${error.message} (BODY_LIMIT_BYTES)`);
  }
  const described = describeError(error);
  if (described.internal) logger.error({ err: described.cause, route }, "internal error");
  const retryAfter = retryAfterSeconds(error);
  if (retryAfter !== undefined) res.setHeader("retry-after", String(retryAfter));
  const status = { code: grpcCodeOf(described.httpStatus), message: described.message };
  send(
    res,
    described.httpStatus,
    encoding,
    signal,
    encoding === "json" ? { ...status, ...toHttpErrorBody(described) } : status,
  );
}

/**
 * `POST /v1/logs`, `/v1/metrics`, `/v1/traces`: OTLP/HTTP, as Claude Code exports it with
 * `OTEL_EXPORTER_OTLP_ENDPOINT` pointing here. JSON or protobuf, optionally gzipped; a
 * bearer key with the ingest scope (`OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer …`).
 * Answers 200 with an empty response when everything was kept, or with `partialSuccess`
 * (how many were refused and why) when some records could not be (no `session.id`).
 */
export async function handleOtlpExport(
  req: IncomingMessage,
  res: ServerResponse,
  signal: OtlpSignal,
  deps: ApiDeps & { bodyLimitBytes: number; logger: Logger },
): Promise<void> {
  const route = `POST /v1/${signal}`;
  // Until the media type is known, answer in JSON.
  let encoding: Encoding = "json";
  try {
    const ctx = await createContextInner(deps, header(req, "authorization"), req.socket.remoteAddress);
    try {
      encoding = encodingOf(req);
    } catch (error) {
      req.resume();
      throw error;
    }
    const refused = accessError(ctx, "ingest");
    if (refused) {
      req.resume();
      throw refused;
    }
    const raw = decode(signal, encoding, await bodyOf(req, deps.bodyLimitBytes));
    const otel = deps.services.otel;
    const result: OtlpExportResult =
      signal === "logs"
        ? await otel.ingestLogs(parse(exportLogsRequest, raw, signal))
        : signal === "metrics"
          ? await otel.ingestMetrics(parse(exportMetricsRequest, raw, signal))
          : await otel.ingestTraces(parse(exportTraceRequest, raw, signal));
    // OTLP lets a full success carry a warning (partialSuccess, 0 rejected, a message): the
    // one change made on the way in is said there.
    const warning =
      result.replacedCharacters > 0
        ? `${result.replacedCharacters} character${result.replacedCharacters === 1 ? "" : "s"} PostgreSQL cannot hold stored as U+FFFD`
        : undefined;
    const message = [result.errorMessage, warning].filter((part) => part !== undefined).join("; ");
    send(res, 200, encoding, signal, exportResponse(signal, result.rejected, message === "" ? undefined : message));
  } catch (error) {
    sendFailure(res, encoding, signal, error, deps.logger, route);
  }
}
