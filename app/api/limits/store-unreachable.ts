/** The database is known to be unreachable (the database health says so), so the limits store was not asked. */
export class StoreUnreachableError extends Error {
  constructor() {
    super('the limit store is unreachable');
  }
}
