import { readFileSync } from "node:fs";
import pg from "pg";
const s = JSON.parse(readFileSync("/work/bench-10m/pg-secrets.json", "utf8"));
const db = process.argv[2];
const c = new pg.Client({ connectionString: `postgresql://${encodeURIComponent(s.superuser.name)}:${encodeURIComponent(s.superuser.password)}@127.0.0.1:55439/${db}` });
await c.connect();
for (const q of process.argv.slice(3)) {
  const r = await c.query(q);
  console.log(q.slice(0, 80)); console.table(r.rows);
}
await c.end();
