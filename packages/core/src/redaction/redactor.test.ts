import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { hookFixtures, readJsonl, SECRET_FIELD_SAMPLES, SECRET_SAMPLES, transcriptFixtures } from "@logbook/fixtures";
import { describe, expect, it } from "vitest";
import { expectDefined } from "@logbook/vitest-config/expect-defined";

import { readRedactionRulesFile, Redactor, redactionMarker } from "./redactor.js";
import { DEFAULT_RULES, isSecretName } from "./rules.js";

const redactor = new Redactor();

describe("every built-in rule", () => {
  const ruleIds = [...new Set(DEFAULT_RULES.map((r) => r.id))];

  it.each(ruleIds)("%s has at least one sample", (id) => {
    expect(SECRET_SAMPLES.some((s) => s.rule === id)).toBe(true);
  });

  it.each(SECRET_SAMPLES.map((s) => [s.rule, s] as const))("%s: replaced, rule name kept", (rule, s) => {
    const { text, count } = redactor.text(s.text);
    expect(text).not.toContain(s.secret);
    expect(text).toContain(redactionMarker(rule));
    expect(count).toBe(1);
  });

  it("keeps the text around a secret", () => {
    expect(redactor.text("postgres://app:s3cr3t@db:5432/x").text).toBe(
      "postgres://app:[REDACTED:url-password]@db:5432/x",
    );
    expect(redactor.text("export DB_PASSWORD=hunter2hunter2 && run").text).toBe(
      "export DB_PASSWORD=[REDACTED:secret-assignment] && run",
    );
    expect(redactor.text(`token: "abcdef12345"`).text).toBe(`token: "[REDACTED:secret-assignment]"`);
  });

  it("reads a replaced token in a URL's user as no part of its password, and a URL's empty user as a user", () => {
    const token = expectDefined(SECRET_SAMPLES.find((s) => s.rule === "github-token")).secret;
    expect(redactor.text(`git clone https://${token}@github.com/o/r.git`)).toEqual({
      text: "git clone https://[REDACTED:github-token]@github.com/o/r.git",
      count: 1,
    });
    expect(redactor.text(`https://${token}:pa55word@github.com/o/r.git`)).toEqual({
      text: "https://[REDACTED:github-token]:[REDACTED:url-password]@github.com/o/r.git",
      count: 2,
    });
    expect(redactor.text("redis://:pa55word@cache:6379 and http://[::1]:8080/x")).toEqual({
      text: "redis://:[REDACTED:url-password]@cache:6379 and http://[::1]:8080/x",
      count: 1,
    });
  });

  it("ends a private key cut short where its base64 lines end", () => {
    const cut =
      "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9u\nZQAAAAAAAAABAAAAMwAAAAtz";
    expect(redactor.text(`${cut}\n$ echo done`)).toEqual({ text: "[REDACTED:private-key]\n$ echo done", count: 1 });
  });

  it("names the specific shape, not the generic assignment, when both fit", () => {
    const token = expectDefined(SECRET_SAMPLES.find((s) => s.rule === "github-token")).secret;
    const { text, count } = redactor.text(`GITHUB_TOKEN=${token}`);
    expect(text).toBe("GITHUB_TOKEN=[REDACTED:github-token]");
    expect(count).toBe(1);
  });

  it("counts every secret of a text", () => {
    const text = SECRET_SAMPLES.map((s) => s.text).join("\n");
    const result = redactor.text(text);
    for (const s of SECRET_SAMPLES) expect(result.text).not.toContain(s.secret);
    expect(result.count).toBe(SECRET_SAMPLES.length);
  });
});

describe("what is not a secret", () => {
  const kept = [
    "0192f0c4-8e8b-7a3e-9c1d-3f5e2a1b4c6d",
    "sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "commit 4b825dc642cb6eb9a060e54bf8d69288fbee4904",
    "msg_01XFDUDYJgAACzvnptvVoYEL req_011CSHtZ5Jf3T1qyM4GVqaXX toolu_01A09q90qw90lq917835lq9",
    "max_tokens=4096 input_tokens: 1200",
    "interface Login { password: string; token?: string }",
    "const token = getToken(); const apiKey = process.env.API_KEY;",
    'password: "$DB_PASSWORD" token="${{ secrets.NPM_TOKEN }}" apiKey: "<your-api-key>" secret: "****"',
    "export GITHUB_TOKEN=$(gh auth token)",
    "http://localhost:8080/path@v2 and git@github.com:owner/repo.git and https://example.com/a?b=c",
    "risk-free task-list AKIA is a prefix; sk-ant- is another; Bearer auth",
    "/home/me/projects/app/src/secret-store/token-cache.ts",
    "PWD=/home/me/app OLDPWD=/home/me BYPASS=1 cd - && pwd",
    "Basic usage: run --max-tokens=4096 --token-file=~/.token --password-stdin",
    "docker run -u 1000:1000 -p 8080:80 image",
    "EqQBCkYIBRgCKkD4VgLn0Fr8mT3yPz9n2xXk5T8a1UuWvR+Qk3J3O0pP6hZ7mS5q2wq8s0Qc4Z6v9Kx3L2nB8a7Y1cT0fE4g",
  ];

  it.each(kept)("%s", (text) => {
    expect(redactor.text(text)).toEqual({ text, count: 0 });
  });

  it("leaves every hook payload and transcript line of our fixtures unchanged (the same objects)", () => {
    const { root, files } = transcriptFixtures();
    const values = [...hookFixtures(), ...files.flatMap((f) => readJsonl(join(root, f)))];
    expect(values.length).toBeGreaterThan(20);
    for (const value of values) {
      const result = redactor.json(value);
      expect(result.count, JSON.stringify(value).slice(0, 200)).toBe(0);
      expect(result.value).toBe(value);
    }
  });
});

describe("labels, names and placeholders beside a secret's name (near-misses) against passphrases", () => {
  // Seen in real sessions: a Home Assistant integration's strings and constants, a .env
  // sample, a tokenizer's special tokens, code assigning a variable.
  const kept = [
    `"eversource_password": "Eversource Password"`,
    `"invalid_eversource_credentials": "Invalid Eversource username or password."`,
    `CONF_EVERSOURCE_PASSWORD = "eversource_password"`,
    `"CONF_EVERSOURCE_PASSWORD": "eversource_password",`,
    "[OK] CONF_EVERSOURCE_PASSWORD = eversource_password",
    "LINEAR_API_KEY=your_linear_api_key_here  # Required",
    `tokenizer.add_special_tokens({'pad_token': '[PAD]'})`,
    "process.env.LINEAR_API_KEY = originalKey;",
    `API_KEY = os.environ["API_KEY"]`,
    `| column | label |\n| password | "API Key" |\n{ apiKey: "API Key", token: "Access Token" }`,
    `secret: "Enter your secret here", password: "Passcode (6 digits)"`,
    `OPENAI_API_KEY=xxxxxxxx and passphrase: "your passphrase"`,
  ];
  it.each(kept)("kept: %s", (text) => {
    expect(redactor.text(text)).toEqual({ text, count: 0 });
  });

  // Passphrases: words, but lower-case or not naming themselves; and real values beside the
  // same names as above.
  const replaced: Array<[text: string, secret: string]> = [
    [`{"password": "correct horse battery"}`, "correct horse battery"],
    [`password: "plain words are a password too"`, "plain words are a password too"],
    [`passphrase = "Correct Horse Battery Staple"`, "Correct Horse Battery Staple"],
    [`"eversource_password": "Eversource2026!"`, "Eversource2026!"],
    [`CONF_EVERSOURCE_PASSWORD = "hunter2hunter2"`, "hunter2hunter2"],
    [`LINEAR_API_KEY=lin_api_q8Zr2x7Kf0`, "lin_api_q8Zr2x7Kf0"],
    [`process.env.LINEAR_API_KEY = 'test-api-key'`, "test-api-key"],
    [`{ token: "password_reset_token_value" }`, "password_reset_token_value"],
  ];
  it.each(replaced)("replaced: %s", (text, secret) => {
    const result = redactor.text(text);
    expect(result.text).not.toContain(secret);
    expect(result.text).toContain("[REDACTED:secret-assignment]");
    expect(result.count).toBe(1);
  });

  it("the same rule for a JSON value under a secret's key", () => {
    const labels = {
      eversource_password: "Eversource Password",
      CONF_EVERSOURCE_PASSWORD: "eversource_password",
      pad_token: "[PAD]",
      api_key: "your_api_key_here",
    };
    expect(redactor.json(labels)).toEqual({ value: labels, count: 0 });
    const secrets = { password: "correct horse battery", eversource_password: "Eversource2026!", token: "api_token" };
    expect(redactor.json(secrets)).toEqual({
      value: {
        password: "[REDACTED:secret-field]",
        eversource_password: "[REDACTED:secret-field]",
        token: "[REDACTED:secret-field]",
      },
      count: 3,
    });
  });
});

describe("JSON", () => {
  it("walks values and keys, never the serialized text, and counts each secret", () => {
    const aws = expectDefined(SECRET_SAMPLES.find((s) => s.rule === "aws-access-key-id"));
    const jwt = expectDefined(SECRET_SAMPLES.find((s) => s.rule === "jwt")).secret;
    const payload = {
      tool_name: "Bash",
      tool_input: { command: aws.text, env: [{ name: "X", value: jwt }] },
      [jwt]: 1,
      n: 3,
      ok: true,
      none: null,
    };
    const { value, count } = redactor.json(payload);
    expect(value).toEqual({
      tool_name: "Bash",
      tool_input: {
        command: "aws_access_key_id = [REDACTED:aws-access-key-id]",
        env: [{ name: "X", value: "[REDACTED:jwt]" }],
      },
      "[REDACTED:jwt]": 1,
      n: 3,
      ok: true,
      none: null,
    });
    expect(count).toBe(3);
    // The input is not touched.
    expect(payload.tool_input.command).toBe(aws.text);
  });

  it.each(SECRET_FIELD_SAMPLES)("a value under $key is replaced whole", ({ key, secret }) => {
    const { value, count } = redactor.json({ config: { [key]: secret } });
    expect(value).toEqual({ config: { [key]: "[REDACTED:secret-field]" } });
    expect(count).toBe(1);
  });

  it("keeps fields whose name only looks alike, non-text values and placeholders", () => {
    const payload = {
      usage: { input_tokens: 10, output_tokens: 5 },
      token_count: "12",
      secret_name: "prod-db",
      password: "",
      token: "${TOKEN}",
      has_secret: true,
      apiKey: 42,
    };
    expect(redactor.json(payload)).toEqual({ value: payload, count: 0 });
  });

  it("keeps the keys in their order when a later one changes", () => {
    const jwt = expectDefined(SECRET_SAMPLES.find((s) => s.rule === "jwt")).secret;
    const { value } = redactor.json({ a: "one", b: 2, c: { d: jwt }, e: "five" });
    expect(Object.keys(value)).toEqual(["a", "b", "c", "e"]);
    expect(value).toEqual({ a: "one", b: 2, c: { d: "[REDACTED:jwt]" }, e: "five" });
  });

  it("still replaces secret fields after more distinct key names than it remembers", () => {
    const own = new Redactor();
    const many = Object.fromEntries(Array.from({ length: 3_000 }, (_, i) => [`field_${i}`, "plain value"]));
    expect(own.json(many)).toEqual({ value: many, count: 0 });
    const { value, count } = own.json({ ...many, db_password: "hunter2-and-more", field_7: "plain value" });
    expect(count).toBe(1);
    expect(value).toEqual({ ...many, db_password: "[REDACTED:secret-field]" });
  });

  it("keeps a __proto__ key a plain data key", () => {
    const payload = JSON.parse('{"__proto__": {"password": "abcdefgh"}}') as Record<string, unknown>;
    const { value } = redactor.json(payload);
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(value, "__proto__")?.value).toEqual({ password: "[REDACTED:secret-field]" });
  });

  it("isSecretName looks at the end of the name", () => {
    expect(
      ["password", "DB_PASSWORD", "apiKey", "x-api-key", "accessToken", "Authorization", "aws_secret"].every(
        isSecretName,
      ),
    ).toBe(true);
    expect(["input_tokens", "token_count", "secret_name", "key", "tokenizer", "passwordHint"].some(isSecretName)).toBe(
      false,
    );
  });
});

describe("settings", () => {
  it("off stores everything as given", () => {
    const off = new Redactor({ enabled: false });
    const all = SECRET_SAMPLES.map((s) => s.text).join("\n");
    expect(off.text(all)).toEqual({ text: all, count: 0 });
    const payload = { password: "abcdefgh" };
    expect(off.json(payload)).toEqual({ value: payload, count: 0 });
    expect(off.ruleIds).toEqual([]);
  });

  const dir = mkdtempSync(join(tmpdir(), "logbook-redaction-"));
  const file = (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content, { mode: 0o600 });
    return path;
  };

  it("adds the rules of a rules file after the built-in ones", () => {
    const rules = readRedactionRulesFile(
      file(
        "rules.json",
        JSON.stringify({
          rules: [
            { id: "acme-token", pattern: "acme_[a-z0-9]{16}", keywords: ["acme_"] },
            { id: "employee-id", pattern: "employee (?<secret>E\\d{6})", flags: "i" },
          ],
        }),
      ),
    );
    const custom = new Redactor({ extraRules: rules });
    expect(custom.ruleIds).toEqual(expect.arrayContaining(["acme-token", "employee-id", "jwt", "secret-field"]));
    expect(custom.text("use acme_0123456789abcdef and Employee E123456").text).toBe(
      "use [REDACTED:acme-token] and Employee [REDACTED:employee-id]",
    );
    // The built-in rules still run.
    const jwt = expectDefined(SECRET_SAMPLES.find((s) => s.rule === "jwt"));
    expect(custom.text(jwt.text).text).not.toContain(jwt.secret);
  });

  it("says what is wrong with a rules file that does not parse", () => {
    expect(() => readRedactionRulesFile(join(dir, "missing.json"))).toThrow(
      /rules file .*missing\.json cannot be read \(ENOENT\)/,
    );
    expect(() => readRedactionRulesFile(file("bad.json", "{ nope"))).toThrow(/is not valid JSON/);
    const bad = (rules: unknown) => file("r.json", JSON.stringify({ rules }));
    expect(() => readRedactionRulesFile(bad([{ id: "x", pattern: "(" }]))).toThrow(
      /rules\.0\.pattern: is not a valid JavaScript regular expression/,
    );
    expect(() => readRedactionRulesFile(bad([{ id: "x", pattern: "a*" }]))).toThrow(/must not match the empty text/);
    expect(() => readRedactionRulesFile(bad([{ id: "Bad Id", pattern: "a" }]))).toThrow(
      /rules\.0\.id: must be lower-case/,
    );
    expect(() => readRedactionRulesFile(bad([{ id: "x", pattern: "a", flags: "g" }]))).toThrow(/flags i, m, s and u/);
    expect(() =>
      readRedactionRulesFile(
        bad([
          { id: "x", pattern: "a" },
          { id: "x", pattern: "b" },
        ]),
      ),
    ).toThrow(/used twice/);
    expect(() => readRedactionRulesFile(bad([{ id: "jwt", pattern: "a" }]))).toThrow(/"jwt" is a built-in rule's/);
    expect(() => readRedactionRulesFile(file("top.json", "[]"))).toThrow(/\(top level\)/);
  });
});
