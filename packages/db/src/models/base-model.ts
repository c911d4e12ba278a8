import { Model, snakeCaseMappers, type ColumnNameMappers } from "objection";

/**
 * Every model maps camelCase properties to the snake_case columns of the migrations.
 * Models are never bound to a global Knex: services pass theirs (or a transaction) to
 * `Model.query(knexOrTrx)`, so one process can talk to several databases (tests do).
 */
export class BaseModel extends Model {
  static override get columnNameMappers(): ColumnNameMappers {
    return snakeCaseMappers();
  }
  static override useLimitInFirst = true;
}
