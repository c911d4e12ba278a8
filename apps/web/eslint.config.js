import base from "@logbook/eslint-config";

/** e2e/ is its own workspace package (@logbook/web-e2e) with its own lint. */
export default [{ ignores: ["e2e/**"] }, ...base];
