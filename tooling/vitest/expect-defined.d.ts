/** The value, or a thrown error naming what was missing (tests: instead of a `!`). */
export declare function expectDefined<T>(value: T, what?: string): NonNullable<T>;
