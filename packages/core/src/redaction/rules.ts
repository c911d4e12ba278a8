/**
 * The built-in secret shapes. Each rule is a pattern over text; a match (or its named group
 * `secret`, when the pattern has one) becomes `[REDACTED:<id>]`. A rule runs only on texts
 * its `trigger` finds something in: the built-in rules share two triggers (provider prefixes,
 * secret-looking names), so most texts cost two quick scans and no other expression
 * (measured: about 10 us per KB of text; see docs/redaction.md).
 *
 * Written for this project after the public formats of each provider's tokens (prefixes and
 * lengths as the providers document them). They are deliberately anchored on a provider
 * prefix, a PEM header or a secret-looking name, never on "long random-looking text": ids,
 * UUIDs, hashes and signatures in agent payloads must come through unchanged.
 *
 * Order matters: a text is run through the rules in this order, and text already replaced
 * is never matched again, so the specific shapes come before the generic assignments.
 */
export interface RedactionRule {
  id: string;
  pattern: RegExp;
  /** Must find something in a text for `pattern` to run on it; null: always run. */
  trigger: RegExp | null;
  /**
   * The rule finds a value by the name it is assigned to (`NAME=value`, `name: "value"`),
   * not by its shape: a match that `isNotASecret` (label, name, placeholder) is kept.
   */
  byName?: true;
}

/** Names whose value is a secret: `DB_PASSWORD`, `apiKey`, `client_secret`, `Authorization`, … */
export const SECRET_NAME_WORDS = [
  "password",
  "passwd",
  "passphrase",
  "secret",
  "token",
  "apikey",
  "secretkey",
  "accesskey",
  "privatekey",
  "authkey",
  "credential",
  "credentials",
  "authorization",
] as const;

/**
 * The end of a secret-looking name inside text, in any case and style (`API_KEY`, `apiKey`,
 * `api-key`): only the end matters, the rest of the name need not be matched (and matching
 * it would cost a backtracking scan at every position of every text).
 */
const NAME_END = `(?:${SECRET_NAME_WORDS.map((w) => w.replace(/key$/, "[_-]?key")).join("|")})`;
/** The same, UPPER_CASE only (environment variables, `.env` files). */
const ENV_NAME_END = `(?:${SECRET_NAME_WORDS.map((w) => w.toUpperCase().replace(/KEY$/, "_?KEY")).join("|")})`;
/** Values that only point at a secret (`$TOKEN`, `${{ secrets.X }}`, `<your-key>`, `***`) are left alone. */
const NOT_A_REFERENCE = String.raw`(?![$<{%*])`;

/**
 * Every provider rule's fixed part, case-sensitive (a literal scan V8 does fast). Keep in
 * step with the rules below: the unit tests check each sample is found by its rule's trigger.
 */
const PROVIDER =
  /PRIVATE KEY|A(?:KIA|SIA|BIA|CCA|3T|Iza)|gh[pousr]_|github_pat_|gl[a-z]{1,5}-|xox|hooks\.slack|[sr]k_(?:live|test)_|sk-|npm_|hf_|SG\.|eyJ|:\/\/|Bearer/;
/** The secret-looking names (and `aws`, and `pwd` of `MYSQL_PWD`), any case. */
const NAMES = /pass|secret|token|key|credential|authorization|aws|pwd/i;

const rule = (id: string, pattern: RegExp, trigger: RegExp): RedactionRule => ({ id, pattern, trigger });
const byName = (id: string, pattern: RegExp): RedactionRule => ({ id, pattern, trigger: NAMES, byName: true });

export const DEFAULT_RULES: readonly RedactionRule[] = [
  // To its END line; a block cut short (`head -c 400 id_rsa`) to the end of its base64 lines.
  rule(
    "private-key",
    /-----BEGIN[A-Z0-9 ]{0,40} PRIVATE KEY(?: BLOCK)?-----(?:[\s\S]*?-----END[A-Z0-9 ]{0,40} PRIVATE KEY(?: BLOCK)?-----|(?:\s*[A-Za-z0-9+/=:,-]+)*)/g,
    PROVIDER,
  ),
  rule("aws-access-key-id", /\b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16}\b/g, PROVIDER),
  // The 40-character secret has no prefix of its own: only next to an AWS-ish name.
  rule(
    "aws-secret-access-key",
    /aws[A-Za-z0-9_.-]{0,20}(?:secret|key)[A-Za-z0-9_.-]{0,20}["']?\s*[:=]{1,2}>?\s*["']?(?<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])/gi,
    NAMES,
  ),
  rule("github-token", /\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,251}\b/g, PROVIDER),
  rule("github-fine-grained-token", /\bgithub_pat_[A-Za-z0-9_]{80,}\b/g, PROVIDER),
  rule("gitlab-token", /\bgl(?:pat|ptt|dt|rt|cbt|oas|ft|imt|soat|agent)-[A-Za-z0-9_-]{20,}/g, PROVIDER),
  rule("slack-token", /\bxox[abposre]-[A-Za-z0-9-]{10,}/g, PROVIDER),
  rule(
    "slack-webhook-url",
    /https:\/\/hooks\.slack\.com\/(?:services|workflows|triggers)\/[A-Za-z0-9_/+-]{20,}/g,
    PROVIDER,
  ),
  rule("stripe-secret-key", /\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,247}\b/g, PROVIDER),
  // Before openai: Anthropic keys also start with `sk-`.
  rule("anthropic-api-key", /\bsk-ant-[a-z]{3,6}\d{2}-[A-Za-z0-9_-]{20,}/g, PROVIDER),
  rule(
    "openai-api-key",
    /\bsk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}|[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20})(?![A-Za-z0-9_-])/g,
    PROVIDER,
  ),
  rule("google-api-key", /\bAIza[A-Za-z0-9_-]{35}(?![A-Za-z0-9_-])/g, PROVIDER),
  rule("npm-token", /\bnpm_[A-Za-z0-9]{36}\b/g, PROVIDER),
  rule("huggingface-token", /\bhf_[A-Za-z]{34}\b/g, PROVIDER),
  rule("sendgrid-api-key", /\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\b/g, PROVIDER),
  rule("jwt", /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, PROVIDER),
  // scheme://user:password@host: only the password goes; the rest says where it pointed.
  // The user may be empty (`redis://:password@host`) or a token an earlier rule replaced;
  // brackets are no part of a URL's user or password (RFC 3986), so a marker is never read
  // as one.
  rule(
    "url-password",
    /:\/\/(?:\[REDACTED:[A-Za-z0-9_-]{1,60}\]|[^\s:@/?#"'<>[\]]{0,200}):(?<secret>[^\s@/?#"'<>[\]]{1,200})@/g,
    PROVIDER,
  ),
  rule("bearer-token", /\bBearer\s+(?<secret>[A-Za-z0-9._~+/-]{16,}=*)/g, PROVIDER),
  // `Authorization: Basic <base64 of user:password>` in a header written out as text.
  rule(
    "basic-auth",
    /authorization["']?\s*[:=]\s*["']?Basic\s+(?<secret>[A-Za-z0-9+/]{6,}={0,2})(?![A-Za-z0-9+/=])/gi,
    NAMES,
  ),
  // NAME=value for UPPER_CASE names, as in shells and .env files: `export GITHUB_TOKEN=…`.
  // Unquoted only right after the `=`: with spaces around it, it is code
  // (`API_KEY = os.environ["API_KEY"]`, `process.env.API_KEY = originalKey`); quoted values
  // are the next rule's, with or without spaces.
  byName(
    "secret-assignment",
    new RegExp(String.raw`${ENV_NAME_END}=(?<secret>${NOT_A_REFERENCE}[^\s"'\x60;&|]{4,})`, "g"),
  ),
  // The short forms of a password's name, after a prefix (`DB_PASS=`, `MYSQL_PWD=`): alone,
  // `PWD` is the working directory and `PASS` too common a word.
  byName(
    "secret-assignment",
    new RegExp(String.raw`[A-Z0-9]_(?:PASS|PWD)=(?<secret>${NOT_A_REFERENCE}[^\s"'\x60;&|]{4,})`, "g"),
  ),
  // A command's flag, unquoted: `mysql --password=…`, `docker login --password=…`, `--api-key=…`.
  byName(
    "secret-assignment",
    new RegExp(String.raw`(?:^|\s)--[a-z0-9-]{0,40}?${NAME_END}=(?<secret>${NOT_A_REFERENCE}[^\s"'\x60;&|]{4,})`, "gi"),
  ),
  // name: "value" / name = 'value' / "name": "value", any case, only with a quoted value:
  // `password: string` or `token = getToken()` in code are not secrets.
  byName(
    "secret-assignment",
    new RegExp(
      String.raw`${NAME_END}["']?\s*(?::=|=>|[:=])\s*(?<q>["'])(?<secret>${NOT_A_REFERENCE}[^"'\n]{4,})\k<q>`,
      "gi",
    ),
  ),
  // ?access_token=… in a URL.
  byName(
    "secret-assignment",
    new RegExp(String.raw`[?&][A-Za-z0-9_.-]{0,40}?${NAME_END}=(?<secret>${NOT_A_REFERENCE}[^\s&#"'<>]{4,})`, "gi"),
  ),
];

/**
 * Whether an object key names a secret (`password`, `apiKey`, `client_secret`, `GITHUB_TOKEN`,
 * `authorization`): letters only, lower-cased, and it must END with one of the words, so
 * `input_tokens`, `token_count` or `secret_name` do not.
 */
export function isSecretName(key: string): boolean {
  const letters = key.toLowerCase().replace(/[^a-z]/g, "");
  return SECRET_NAME_WORDS.some((w) => letters.endsWith(w));
}

/** Values that only point at a secret, or hold none: `$TOKEN`, `${…}`, `<your-key>`, `***`, `[PAD]`, `your_api_key_here`, `xxxx`. */
const PLACEHOLDER = /^(?:\s*|\$\{?[A-Za-z_].*|<[^>]*>|\*+|\[[^\]]*\]|your[\s_-].*|.*[_-]here|x{4,})$/is;
/** A word that says what a label is for: `Password`, `API key`, `Access Token`, `credentials`. */
const SECRET_WORD = /\b(?:pass(?:word|wd|phrase|code)|secret|token|key|credentials?)\b/i;
const IDENTIFIER = /^[A-Za-z][A-Za-z0-9_.-]*$/;
const lettersOf = (text: string) => text.toLowerCase().replace(/[^a-z]/g, "");

/**
 * Whether a value found by its name (`name` is the key or the assigned name; empty when
 * unknown) holds no secret, and is kept. Three kinds, each with near-misses in the tests:
 *
 * - a placeholder (`$TOKEN`, `<your-key>`, `***`, `[PAD]`, `your_api_key_here`);
 * - a **label**: words with a space between them that start with a capital letter and name
 *   what they label (`"Eversource Password"`, `"API Key"`,
 *   `"Invalid Eversource username or password."`): the text of a form, a column, a message.
 *   A passphrase is words too, but does not start with a capital and name itself:
 *   `"correct horse battery"`, `"plain words are a password too"` are still replaced;
 * - the **name itself**: one identifier whose letters end the name's and end like a secret's
 *   name (`CONF_EVERSOURCE_PASSWORD = "eversource_password"`, a constant holding a config key).
 */
export function isNotASecret(value: string, name: string): boolean {
  if (PLACEHOLDER.test(value)) return true;
  if (/\s/.test(value.trim()) && /^[A-Z]/.test(value.trim()) && SECRET_WORD.test(value)) return true;
  if (!IDENTIFIER.test(value) || !isSecretName(value)) return false;
  const letters = lettersOf(value);
  return letters.length > 0 && lettersOf(name).endsWith(letters);
}

/**
 * The name a value at `start` of `text` is assigned to: the identifier just before the
 * assignment (`DB_PASSWORD` in `export DB_PASSWORD=…`, `client_secret` in `"client_secret": "…"`).
 */
export function assignedNameBefore(text: string, start: number): string {
  let end = start;
  while (end > 0 && /["'\s:=>]/.test(text.charAt(end - 1))) end--;
  let begin = end;
  while (begin > 0 && /[A-Za-z0-9_.-]/.test(text.charAt(begin - 1))) begin--;
  return text.slice(begin, end);
}
