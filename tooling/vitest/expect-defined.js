/**
 * The value, or a thrown error that says which value was missing. For tests: where a test
 * reads `rows[0].id`, a missing row should fail the test with this message, not with
 * "cannot read properties of undefined" (and without a `!` the type checker cannot verify).
 *
 * @template T
 * @param {T} value
 * @param {string} [what] what was expected, for the message
 * @returns {NonNullable<T>}
 */
export function expectDefined(value, what = "a value") {
  if (value === undefined || value === null) {
    throw new Error(`expected ${what}, got ${value === null ? "null" : "undefined"}`);
  }
  return value;
}
