import type { Knex } from "knex";

/**
 * The dashboard's sign-in (issue 17). A login link is a single-use secret valid for two
 * minutes; redeeming it opens a web session, whose secret lives only in an HttpOnly cookie.
 * Both act for one API key and with its scopes, so both go when the key is deleted, and
 * both store only the SHA-256 of their secret (as `api_keys` does).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable("login_links", (t) => {
    t.uuid("id").primary().defaultTo(knex.raw("gen_random_uuid()"));
    t.uuid("key_id").notNullable().references("id").inTable("api_keys").onDelete("CASCADE");
    t.text("token_hash").notNullable().unique({ indexName: "login_links_token_hash_unique" });
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("expires_at", { useTz: true }).notNullable();
    t.timestamp("used_at", { useTz: true });
    t.index(["key_id"], "login_links_key_id_idx");
  });
  await knex.schema.createTable("web_sessions", (t) => {
    t.uuid("id").primary().defaultTo(knex.raw("gen_random_uuid()"));
    t.uuid("key_id").notNullable().references("id").inTable("api_keys").onDelete("CASCADE");
    t.text("token_hash").notNullable().unique({ indexName: "web_sessions_token_hash_unique" });
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp("expires_at", { useTz: true }).notNullable();
    t.timestamp("ended_at", { useTz: true });
    t.index(["key_id"], "web_sessions_key_id_idx");
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable("web_sessions");
  await knex.schema.dropTable("login_links");
}
