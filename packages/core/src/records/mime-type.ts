/**
 * MIME types of the files coding agents touch, by extension. Built in rather than from
 * `mime-types`, whose database answers `video/mp2t` for `.ts`, the most common file here.
 * Maps, not object literals: the key is the caller's path, and a plain object would answer
 * `.constructor` or `.__proto__` with what it inherits from `Object.prototype`.
 */
const BY_EXTENSION: ReadonlyMap<string, string> = new Map(
  Object.entries({
    // code
    ts: "text/typescript",
    tsx: "text/typescript",
    mts: "text/typescript",
    cts: "text/typescript",
    js: "text/javascript",
    jsx: "text/javascript",
    mjs: "text/javascript",
    cjs: "text/javascript",
    py: "text/x-python",
    pyi: "text/x-python",
    rb: "text/x-ruby",
    go: "text/x-go",
    rs: "text/x-rust",
    java: "text/x-java",
    kt: "text/x-kotlin",
    kts: "text/x-kotlin",
    scala: "text/x-scala",
    swift: "text/x-swift",
    c: "text/x-c",
    h: "text/x-c",
    cc: "text/x-c++",
    cpp: "text/x-c++",
    cxx: "text/x-c++",
    hpp: "text/x-c++",
    cs: "text/x-csharp",
    php: "application/x-httpd-php",
    lua: "text/x-lua",
    pl: "text/x-perl",
    r: "text/x-r",
    dart: "text/x-dart",
    ex: "text/x-elixir",
    exs: "text/x-elixir",
    erl: "text/x-erlang",
    hs: "text/x-haskell",
    clj: "text/x-clojure",
    vue: "text/x-vue",
    svelte: "text/x-svelte",
    sql: "application/sql",
    sh: "application/x-sh",
    bash: "application/x-sh",
    zsh: "application/x-sh",
    ps1: "text/plain",
    // markup, data, config
    html: "text/html",
    htm: "text/html",
    css: "text/css",
    scss: "text/x-scss",
    less: "text/x-less",
    md: "text/markdown",
    markdown: "text/markdown",
    mdx: "text/markdown",
    txt: "text/plain",
    log: "text/plain",
    rst: "text/x-rst",
    json: "application/json",
    jsonl: "application/jsonl",
    ndjson: "application/x-ndjson",
    map: "application/json",
    xml: "application/xml",
    yaml: "application/yaml",
    yml: "application/yaml",
    toml: "application/toml",
    ini: "text/plain",
    cfg: "text/plain",
    conf: "text/plain",
    env: "text/plain",
    csv: "text/csv",
    tsv: "text/tab-separated-values",
    graphql: "application/graphql",
    gql: "application/graphql",
    proto: "text/plain",
    diff: "text/x-diff",
    patch: "text/x-diff",
    lock: "text/plain",
    // binary
    png: "image/png",
    jpg: "image/jpeg",
    jpeg: "image/jpeg",
    gif: "image/gif",
    webp: "image/webp",
    svg: "image/svg+xml",
    ico: "image/vnd.microsoft.icon",
    bmp: "image/bmp",
    avif: "image/avif",
    pdf: "application/pdf",
    zip: "application/zip",
    gz: "application/gzip",
    tgz: "application/gzip",
    tar: "application/x-tar",
    wasm: "application/wasm",
    woff: "font/woff",
    woff2: "font/woff2",
    ttf: "font/ttf",
    otf: "font/otf",
    mp3: "audio/mpeg",
    wav: "audio/wav",
    mp4: "video/mp4",
    webm: "video/webm",
  }),
);

const BY_NAME: ReadonlyMap<string, string> = new Map(
  Object.entries({
    dockerfile: "text/x-dockerfile",
    makefile: "text/x-makefile",
    license: "text/plain",
    readme: "text/plain",
    ".gitignore": "text/plain",
    ".dockerignore": "text/plain",
    ".editorconfig": "text/plain",
    ".npmrc": "text/plain",
    ".env": "text/plain",
  }),
);

/** The MIME type a path's name or extension suggests, or null when it says nothing. */
export function guessMimeType(path: string): string | null {
  const name = (path.split(/[\\/]/).pop() ?? "").toLowerCase();
  const byName = BY_NAME.get(name);
  if (byName) return byName;
  const dot = name.lastIndexOf(".");
  if (dot <= 0) return null;
  return BY_EXTENSION.get(name.slice(dot + 1)) ?? null;
}
