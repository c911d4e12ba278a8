/** What the global setup hands every test file through `inject()`. */
export {};

declare module "vitest" {
  export interface ProvidedContext {
    /** A URL with rights to create databases on the run's PostgreSQL. */
    logbookAdminDatabaseUrl: string;
    /** The migrated database every test file clones. */
    logbookTemplateDatabase: string;
  }
}
