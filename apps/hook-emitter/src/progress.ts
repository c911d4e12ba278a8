import { SingleBar } from "cli-progress";

/**
 * The progress bar of `import` and `sync` (cli-progress, on stderr, only on a terminal: the
 * callers decide). Bytes done of bytes to read, with the file count and what was planned;
 * redrawn at most every 100 ms by the library, so feeding it every line costs nothing.
 */
export class ByteProgress {
  private readonly bar: SingleBar;
  private started = false;

  constructor(
    private readonly totalBytes: number,
    private readonly totalFiles: number,
  ) {
    this.bar = new SingleBar({
      stream: process.stderr,
      format: "[{bar}] {percentage}%  file {file}/{files}  events {events}  errors {errors}",
      barsize: 24,
      barCompleteChar: "#",
      barIncompleteChar: "-",
      hideCursor: false,
      clearOnComplete: true,
      fps: 10,
    });
  }

  update(bytes: number, fileIndex: number, counts: { events: number; errors: number }): void {
    const payload = { file: Math.min(fileIndex + 1, this.totalFiles), files: this.totalFiles, ...counts };
    const value = Math.min(bytes, this.totalBytes);
    if (!this.started) {
      this.bar.start(Math.max(this.totalBytes, 1), value, payload);
      this.started = true;
    } else this.bar.update(value, payload);
  }

  /** Takes the bar off the screen (before a message, and at the end). */
  clear(): void {
    if (!this.started) return;
    this.bar.stop();
    this.started = false;
  }
}
