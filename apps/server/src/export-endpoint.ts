import type { IncomingMessage, ServerResponse } from "node:http";

import { accessError, createContextInner, sessionTokenFrom, type ApiDeps } from "@logbook/api";
import { exportSessionInput } from "@logbook/contracts";
import { invalidInputFrom, type ExportFile } from "@logbook/core";

import type { Logger } from "./logger.js";
import { sendError } from "./respond.js";

const ROUTE = "GET /export/sessions/:id";
const PATH = /^\/export\/sessions\/([^/]+)$/;

/** The session id of an export path (`/export/sessions/<id>`), or null when the path is not one. */
export function exportSessionId(path: string): string | null {
  const match = PATH.exec(path);
  if (!match?.[1]) return null;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return match[1]; // not valid percent-encoding: the contract refuses it as an id
  }
}

/** Resolves once the socket takes more, or once the client has gone (then `res.destroyed`). */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

/**
 * `GET /export/sessions/<id>?format=md|json|jsonl`: a session with its subagents as a file
 * to save (what `sessions.export` answers as one value, streamed): read a page of events at
 * a time and written as the client takes it, so the server holds about a page whatever the
 * session's size. Needs the read scope, from an API key or the dashboard's session cookie.
 *
 * Everything that can be refused is refused before the first byte (auth, input, an unknown
 * session: the API's error shape and status). A failure after that cannot change the status
 * any more: the connection is cut before the end of the chunked body, so the client sees a
 * broken download, never a short file that looks whole.
 */
export async function handleSessionExport(
  req: IncomingMessage,
  res: ServerResponse,
  deps: ApiDeps & { logger: Logger },
  id: string,
): Promise<void> {
  let file: ExportFile;
  try {
    const ctx = await createContextInner(
      deps,
      req.headers.authorization,
      req.socket.remoteAddress,
      sessionTokenFrom(req.headers.cookie),
    );
    const refused = accessError(ctx, "read");
    if (refused) return sendError(res, refused, deps.logger, ROUTE);
    const format = new URL(req.url ?? "/", "http://x").searchParams.get("format") ?? undefined;
    const input = exportSessionInput.safeParse({ id, format });
    if (!input.success) throw invalidInputFrom(input.error, "export request");
    file = await deps.services.exports.open(input.data);
  } catch (error) {
    return sendError(res, error, deps.logger, ROUTE);
  }

  // Set one by one, not given to writeHead: the server's in-flight tracking reads them back
  // (`getHeader`) to know this answer is a download, which a stop cuts rather than waits for.
  const headers: Record<string, string> = {
    "content-type": file.mediaType,
    // The name is made of [A-Za-z0-9._-] only (ExportService), so it needs no escaping.
    "content-disposition": `attachment; filename="${file.fileName}"`,
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "x-logbook-sessions": String(file.sessions),
    "x-logbook-events": String(file.events),
  };
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.writeHead(200);
  if (req.method === "HEAD") return void res.end();
  try {
    for await (const chunk of file.chunks) {
      if (!res.write(chunk)) await drained(res);
      // The client went away (or a stop cut the download): leaving the loop ends the reading.
      if (res.destroyed) return;
    }
    res.end();
  } catch (error) {
    deps.logger.error({ err: error, route: ROUTE }, "export failed after its answer began: the connection is cut");
    res.destroy();
  }
}
