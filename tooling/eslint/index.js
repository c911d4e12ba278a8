import js from "@eslint/js";
import tseslint from "typescript-eslint";

/** The lint rules every workspace shares. Type-aware rules are on, so lint needs a tsconfig. */
export default tseslint.config(
  { ignores: ["**/dist/**", "**/node_modules/**", "**/*.config.*", "**/*.js"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true },
    },
    rules: {
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-misused-promises": [
        "error",
        { checksVoidReturn: { attributes: false, arguments: false } },
      ],
      "@typescript-eslint/require-await": "off",
      "@typescript-eslint/only-throw-error": "off",
      "no-console": "off",
      // A `!` is a claim the compiler cannot check: prove it (narrowing, a guard that throws a
      // clear error) or say why it holds in an eslint-disable comment beside it.
      "@typescript-eslint/no-non-null-assertion": "error",
      // The environment is read once, by a config module's Zod schema; everything else gets
      // the parsed config (a typo'd or undocumented variable cannot hide in a helper).
      "no-restricted-properties": [
        "error",
        { object: "process", property: "env", message: "read the environment in the config module only" },
      ],
    },
  },
  {
    // Where reading the environment is the job: config modules, the entry points that hand
    // process.env to them, tests and test helpers (they set it for child processes), and the
    // benchmark and reliability tools' own options.
    files: [
      "**/config.ts",
      "src/main.ts",
      "src/cli.ts",
      "**/*.test.ts",
      "test/**",
      "src/testing/**",
      "scripts/**",
      "fixture/**",
      "src/options.ts",
      "src/cases/**",
      "src/suites/**",
      "src/workers/**",
    ],
    rules: { "no-restricted-properties": "off" },
  },
);
