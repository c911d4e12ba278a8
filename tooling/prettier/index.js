/**
 * The one formatting style of the tree. The root package.json points Prettier here, so every
 * workspace and every editor formats the same way.
 *
 * @type {import("prettier").Config}
 */
const config = {
  // Wide enough that the existing code, written to ~120 columns, keeps its shape.
  printWidth: 120,
  trailingComma: "all",
  overrides: [{ files: "*.json", options: { trailingComma: "none" } }],
};

export default config;
