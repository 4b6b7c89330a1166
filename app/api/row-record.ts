/** `created_at` → `createdAt`: a column name as a record field. */
type Camel<S extends string> = S extends `${infer Head}_${infer Tail}`
  ? `${Head}${Capitalize<Camel<Tail>>}`
  : S;

/** A row as a store hands it out: the same values, each column named as a record field. */
export type RecordOf<Row> = { [Column in keyof Row & string as Camel<Column>]: Row[Column] };

const camel = (column: string) => column.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase());

/**
 * The record a row stands for: every column the row holds, renamed (`user_id` → `userId`), values untouched. The
 * stores select exactly the record's columns, so the record holds no more than its type says.
 */
export function recordOf<Row extends object>(row: Row): RecordOf<Row> {
  const record: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(row)) record[camel(column)] = value;
  return record as RecordOf<Row>;
}
