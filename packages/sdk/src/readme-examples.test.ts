import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import ts from "typescript";
import { describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

/**
 * The TypeScript examples of the READMEs that show the SDK, type-checked against the SDK's
 * source with the workspace's strict settings, so an example cannot drift from the API it
 * shows. Each block is its own module; the names an example takes from the text around it
 * (`logbook`, `session`, …) are declared for it, with the types the text gives them.
 */

const here = dirname(fileURLToPath(import.meta.url));
const sdkRoot = resolve(here, "..");
const repoRoot = resolve(sdkRoot, "../..");
const READMES = [join(sdkRoot, "README.md"), join(repoRoot, "README.md")];

/** Names examples use without defining them, and what the text around them says they are. */
const CONTEXT: Record<string, string> = {
  logbook: "declare const logbook: import('@logbook/sdk').LogbookClient;",
  admin: "declare const admin: import('@logbook/sdk').LogbookClient; // a client with an admin key",
  session:
    "declare const session: Awaited<ReturnType<import('@logbook/sdk').LogbookClient['sessions']['create']['mutate']>>;",
  savedEventId: "declare let savedEventId: string | null; // a `following.lastEventId` kept from before",
  isLogbookError: "import { isLogbookError } from '@logbook/sdk';",
  url: "declare const url: string;",
  apiKey: "declare const apiKey: string;",
  projectId: "declare const projectId: string;",
};

/**
 * The Claude Agent SDK is not a dependency of ours: its `query` is declared with the one
 * option the example passes, typed as the SDK's own `SessionStore` is used there (an object
 * with `append` and `load`), so what is checked is our side, `LogbookSessionStore`.
 */
const AGENT_SDK = `declare module "@anthropic-ai/claude-agent-sdk" {
  export function query(args: {
    prompt: string;
    options?: { sessionStore?: { append(key: never, entries: never[]): Promise<void>; load(key: never): Promise<unknown> } };
  }): AsyncIterable<unknown>;
}`;

interface Example {
  file: string;
  line: number;
  code: string;
}

function examplesOf(path: string): Example[] {
  const lines = readFileSync(path, "utf8").split("\n");
  const examples: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(?:ts|typescript|tsx)$/.test(lines[i]?.trim() ?? "")) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end]?.trim() !== "```") end++;
    examples.push({ file: path, line: start + 1, code: lines.slice(start, end).join("\n") });
    i = end;
  }
  return examples;
}

/** The example as a module: the context it takes but does not define, then the example. */
function moduleOf(example: Example): string {
  const defines = (name: string) =>
    new RegExp(`\\b(?:const|let|var|function|class)\\s+${name}\\b|import\\s*\\{[^}]*\\b${name}\\b`).test(example.code);
  const context = Object.entries(CONTEXT)
    .filter(([name]) => new RegExp(`\\b${name}\\b`).test(example.code) && !defines(name))
    .map(([, declaration]) => declaration);
  return [...context, example.code, "export {};"].join("\n");
}

function diagnosticsOf(examples: Example[]): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(
    join(sdkRoot, "tsconfig.json"),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"));
      },
    },
  );
  if (config === undefined) throw new Error("packages/sdk/tsconfig.json could not be read");
  const options: ts.CompilerOptions = {
    ...config.options,
    noEmit: true,
    incremental: false,
    noUnusedLocals: false,
    paths: { "@logbook/sdk": [join(sdkRoot, "src/index.ts")] },
  };
  const virtual = new Map<string, string>([[join(sdkRoot, "readme-examples/agent-sdk.d.ts"), AGENT_SDK]]);
  const names = examples.map((example, index) => {
    const name = join(sdkRoot, `readme-examples/example-${index}.ts`);
    virtual.set(name, moduleOf(example));
    return name;
  });
  const base = ts.createCompilerHost(options);
  const host: ts.CompilerHost = {
    ...base,
    fileExists: (name) => virtual.has(name) || base.fileExists(name),
    readFile: (name) => virtual.get(name) ?? base.readFile(name),
    getSourceFile: (name, language, ...rest) => {
      const text = virtual.get(name);
      return text !== undefined
        ? ts.createSourceFile(name, text, language, true)
        : base.getSourceFile(name, language, ...rest);
    },
  };
  const program = ts.createProgram([...virtual.keys()], options, host);
  return names.flatMap((name, index) => {
    const example = expectDefined(examples[index]);
    const source = program.getSourceFile(name);
    return ts.getPreEmitDiagnostics(program, source).map((d) => {
      const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : 0;
      const contextLines = moduleOf(example).split("\n").length - example.code.split("\n").length - 1;
      const line = example.line + where - contextLines;
      return `${example.file.slice(repoRoot.length + 1)}:${line}: ${ts.flattenDiagnosticMessageText(d.messageText, " ")}`;
    });
  });
}

describe("README examples", () => {
  const examples = READMES.flatMap(examplesOf);

  it("there are examples to check (eight in the SDK's README, one in the root's)", () => {
    expect(examples.length).toBeGreaterThanOrEqual(9);
  });

  it("every TypeScript example type-checks against the SDK, strict", () => {
    expect(diagnosticsOf(examples)).toEqual([]);
  }, 120_000);

  it("a wrong example is caught, with its file and line (the check can fail)", () => {
    const wrong = { file: join(sdkRoot, "README.md"), line: 10, code: "await logbook.sessions.lsit.query({});" };
    const found = diagnosticsOf([wrong]);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^packages\/sdk\/README\.md:10: Property 'lsit' does not exist/);
  }, 120_000);
});
