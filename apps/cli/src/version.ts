import packageJson from "../package.json" with { type: "json" };

/** This package's version, bundled in at build time. */
export const VERSION: string = packageJson.version;
