// @ts-check
// Baseline "naive": the app itself runs `knex migrate.latest` and fetches the model source while it starts, then
// serves. Any failure crashes the process, and the kubelet (the harness) restarts it with back-off.
import http from 'node:http';
import { emit, fetchModels, migrateLatest, requiredEnv } from './shared.mjs';

const databaseUrl = requiredEnv('DATABASE_URL');
const sourceUrl = requiredEnv('MODEL_SOURCE_URL');
const port = Number(requiredEnv('PORT'));

async function main() {
  emit('start');
  await migrateLatest(databaseUrl);
  const { models } = await fetchModels(sourceUrl);
  const server = http.createServer((req, res) => {
    const ready = req.url === '/readyz';
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify(ready ? { ready: true, models: models.length } : { object: 'list', data: models }),
    );
  });
  server.listen(port, '127.0.0.1', () => emit('listening', { port }));
  process.once('SIGTERM', () => server.close(() => process.exit(0)));
}

main().catch((error) => {
  emit('crash', { error: String(error?.message ?? error).slice(0, 300) });
  process.exit(1);
});
