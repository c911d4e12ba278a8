/**
 * @logbook/hook-emitter: the `logbook-hook` CLI (bundled to `dist/logbook-hook.cjs`). These
 * exports are its building blocks, for tests and for tools that want the same behaviour.
 */
export { DEFAULT_URL, loadConfig, type EmitterConfig } from "./config.js";
export { isUuid, uuidv7 } from "./ids.js";
export { uuidFromName } from "./name-uuid.js";
export { httpRequest, NetworkError, type HttpResponse } from "./http.js";
export { judgeStdin, type StdinVerdict } from "./record.js";
export { deliver, stopDeliverer, type DeliverEnd, type DeliverOptions, type DeliverResult } from "./deliver.js";
export { acquireLock, DELIVER_LOCK_FILE, lockHeldByLiveProcess, liveLockHolder, type SpoolLock } from "./lock.js";
export { envelopeText, listSpool, spoolEvent } from "./spool.js";
export { flushSpool, type FlushResult } from "./flush.js";
export {
  DEFAULT_HOOK_EVENTS,
  commandHandler,
  detectLayout,
  httpHandler,
  installHooks,
  isLogbookHandler,
  isStandardLayout,
  uninstallHooks,
  SettingsError,
} from "./settings.js";
export { planImport, transcriptFileOf, type PlanItem, type TranscriptFile } from "./transcript.js";
export { findTranscriptFiles, runImport, ImportAborted, type ImportSummary } from "./importer.js";
