/**
 * Polls `probe` until `accept` takes what it returned (by default: until it is truthy) and
 * returns that value; after `deadlineMs`, fails with what it was waiting for and the last
 * value seen. For what has no event a test could await (a row in the database, a file another
 * process writes, a counter a stream moves): a test waits for the condition, never for a
 * time. The deadline only bounds a wait that would otherwise hang until the test's own
 * timeout, and says what never came; it is not a timing assertion, so pick it generously
 * (a loaded machine is slow, not wrong). A probe that throws fails the wait at once.
 *
 * @template T
 * @param {string} what what is awaited, for the message ("the delivery", "3 events")
 * @param {() => T | Promise<T>} probe reads the current value
 * @param {{ deadlineMs: number; everyMs?: number; accept?: (value: T) => boolean }} options
 * @returns {Promise<T>}
 */
export async function waitFor(what, probe, { deadlineMs, everyMs = 50, accept = Boolean }) {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (accept(value)) return value;
    if (Date.now() >= deadline) {
      throw new Error(`gave up after ${deadlineMs / 1000} s waiting for ${what}; last seen: ${shown(value)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** A value for a failure message: JSON where it can be, cut to a readable length. */
function shown(value) {
  let text;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}
