/**
 * The newest migration this code needs. The app is not ready until the database has it.
 * Updated by `npm run migration:new`; a unit test fails when it falls behind core/db/migrations/.
 */
export const REQUIRED_MIGRATION = '20261202115435_create_usage_records.js';
