import type { Knex } from "knex";

/** API keys: only a SHA-256 hash of the secret is stored; the prefix finds the row. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("api_keys", (t) => {
    t.uuid("id").primary().defaultTo(knex.raw("gen_random_uuid()"));
    t.text("name").notNullable();
    t.text("prefix").notNullable().unique({ indexName: "api_keys_prefix_unique" });
    t.text("key_hash").notNullable();
    t.specificType("scopes", "text[]").notNullable();
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("last_used_at", { useTz: true });
    t.timestamp("expires_at", { useTz: true });
    t.timestamp("revoked_at", { useTz: true });
  });
  await knex.raw(`
    ALTER TABLE api_keys
      ADD CONSTRAINT api_keys_scopes_check CHECK (
        cardinality(scopes) >= 1 AND scopes <@ ARRAY['ingest','read','admin']::text[]),
      ADD CONSTRAINT api_keys_name_length CHECK (char_length(name) BETWEEN 1 AND 200);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable("api_keys");
}
