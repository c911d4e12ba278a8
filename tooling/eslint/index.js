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
    },
  },
);
