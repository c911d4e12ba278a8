/**
 * One made-up secret of every built-in shape, for tests (ours and a deployment's own, to
 * check the rules in force) and for docs. None is a real credential: the random-looking
 * parts are cut from one fixed string, so they are built here rather than written out.
 */
const CHARS = "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8s9T0u1V2w3X4y5Z6";
const filler = (length: number, chars = CHARS): string =>
  chars.repeat(Math.ceil(length / chars.length)).slice(0, length);
const letters = (length: number) => filler(length, "qWeRtYuIoPaSdFgHjKlZxCvBnM");

export interface SecretSample {
  /** The rule expected to catch it. */
  rule: string;
  /** A text that carries the secret as it would appear in a payload. */
  text: string;
  /** The part that must not be stored. */
  secret: string;
}

const sample = (rule: string, secret: string, around: (s: string) => string = (s) => s): SecretSample => ({
  rule,
  secret,
  text: around(secret),
});

const pem = (kind: string) =>
  `-----BEGIN ${kind}PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC${filler(64)}\n${filler(40)}==\n-----END ${kind}PRIVATE KEY-----`;

export const SECRET_SAMPLES: readonly SecretSample[] = [
  sample("private-key", pem("RSA "), (s) => `cat id_rsa\n${s}\n`),
  sample("private-key", pem("OPENSSH "), (s) => `key file:\n${s}`),
  sample("private-key", pem(""), (s) => s),
  sample("aws-access-key-id", `AKIA${"IOSFODNN7EXAMPLE"}`, (s) => `aws_access_key_id = ${s}`),
  sample("aws-access-key-id", `ASIA${"Y34FZKBOKMUTVV7A"}`, (s) => `"AccessKeyId": "${s}"`),
  sample(
    "aws-secret-access-key",
    `wJalrXUtnFEMI/K7MDENG/bPxRfiCY${"EXAMPLEKEY"}`,
    (s) => `aws_secret_access_key = ${s}`,
  ),
  sample("github-token", `ghp_${filler(36)}`, (s) => `git clone https://github.com/x/y (token ${s})`),
  sample("github-token", `ghs_${filler(36)}`),
  sample("github-fine-grained-token", `github_pat_${filler(22)}_${filler(59)}`),
  sample("gitlab-token", `glpat-${filler(20)}`, (s) => `PRIVATE-TOKEN header: ${s}`),
  sample("slack-token", `xoxb-1234567890-1234567890123-${filler(24)}`),
  sample(
    "slack-webhook-url",
    `https://hooks.slack.com/services/T00000000/B00000000/${filler(24)}`,
    (s) => `curl -X POST ${s}`,
  ),
  sample("stripe-secret-key", `sk_live_${filler(24)}`),
  sample("stripe-secret-key", `rk_test_${filler(24)}`),
  sample("anthropic-api-key", `sk-ant-api03-${filler(93)}AA`, (s) => `Using key ${s} for the call`),
  sample("openai-api-key", `sk-proj-${filler(48)}`),
  sample("openai-api-key", `sk-${filler(20)}T3BlbkFJ${filler(20)}`),
  sample("google-api-key", `AIza${filler(35)}`, (s) => `https://maps.googleapis.com/x?k=${s}`),
  sample("npm-token", `npm_${filler(36)}`, (s) => `//registry.npmjs.org/:_authToken=${s}`),
  sample("huggingface-token", `hf_${letters(34)}`),
  sample("sendgrid-api-key", `SG.${filler(22)}.${filler(43)}`),
  sample(
    "jwt",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV",
    (s) => `the cookie was session=${s}; Path=/`,
  ),
  sample("url-password", "s3cr3t-Pa55word", (s) => `DATABASE_URL is postgres://app:${s}@db.internal:5432/app`),
  sample("bearer-token", filler(40), (s) => `curl -H "Authorization: Bearer ${s}" https://api.example.com`),
  sample("secret-assignment", "hunter2hunter2", (s) => `export DB_PASSWORD=${s}`),
  sample("secret-assignment", "Zq8!vL2#pR5w", (s) => `MY_SERVICE_API_KEY="${s}"`),
  sample("secret-assignment", "correct horse battery", (s) => `{"password": "${s}"}`),
  sample("secret-assignment", "abcdef123456", (s) => `const clientSecret = '${s}';`),
  sample("secret-assignment", "q1w2e3r4t5y6", (s) => `GET /callback?code=1&access_token=${s}&state=x`),
];

/** JSON values whose key names a secret: replaced whole, whatever they hold. */
export const SECRET_FIELD_SAMPLES: ReadonlyArray<{ key: string; secret: string }> = [
  { key: "password", secret: "plain words are a password too" },
  { key: "apiKey", secret: "k-12345" },
  { key: "client_secret", secret: "a-client-secret" },
  { key: "GITHUB_TOKEN", secret: "not-shaped-like-any-token" },
  { key: "Authorization", secret: "Basic dXNlcjpwYXNz" },
];
