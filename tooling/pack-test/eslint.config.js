import config from "@logbook/eslint-config";

// fixture/ is compiled in the scratch project the test builds, with its own tsconfig.
export default [{ ignores: ["fixture/**"] }, ...config];
