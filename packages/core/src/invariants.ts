/**
 * Values the code has already made sure of, where the type checker cannot follow: a missing
 * one is a bug, not bad input, so these throw a plain Error (an internal error, a generic
 * message to the client) that names what was missing, instead of a `!` that would let the
 * undefined travel on.
 */

/**
 * The row of a statement that always returns one: an INSERT … RETURNING, an UPDATE …
 * RETURNING of a row the same transaction has read or locked, an aggregate without GROUP BY.
 */
export function returnedRow<T>(row: T | undefined, statement: string): T {
  if (row === undefined) throw new Error(`${statement} returned no row`);
  return row;
}

/** A value the code put there itself (a map filled from the same list it is now read for). */
export function known<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`internal: ${what} is missing`);
  return value;
}
