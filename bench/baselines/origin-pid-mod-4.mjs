// @ts-check
// Baseline "pid % 4": the origin's stopgap, modelled on Gunicorn with 4 workers and a 30 s worker timeout.
//
// The primary plays Gunicorn's arbiter: it forks WORKERS workers, and a worker that has not sent a heartbeat for
// WORKER_TIMEOUT_MS is SIGKILLed and replaced (as Gunicorn does; a worker sends heartbeats only once its start-up is
// done, as an ASGI worker does after its lifespan start-up). A worker that dies is replaced too (Gunicorn would halt
// the whole server on a boot failure; replacing it is the more forgiving choice).
//
// A worker whose `process.pid % 4 === 0` runs `knex migrate.latest` and fetches the model list, then writes
// active_models.json into the pod's directory; the others start serving at once and read that file when it
// appears. PIDs are not contiguous (other processes and every thread take PIDs too), so a pod may have no matching
// worker (it never gets a model list) or several (each migrates and fetches).
import cluster from 'node:cluster';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { emit, fetchModels, migrateLatest, requiredEnv } from './shared.mjs';

const WORKERS = Number(process.env.WORKERS ?? 4);
const WORKER_TIMEOUT_MS = Number(process.env.WORKER_TIMEOUT_MS ?? 30_000);
const HEARTBEAT_MS = 1000;

if (cluster.isPrimary) runArbiter();
else runWorker();

function runArbiter() {
  const lastSeen = new Map();
  const fork = () => {
    const worker = cluster.fork();
    lastSeen.set(worker.id, performance.now());
    worker.on('message', (message) => {
      if (message === 'notify') lastSeen.set(worker.id, performance.now());
    });
  };
  let stopping = false;
  cluster.on('exit', (worker, code, signal) => {
    lastSeen.delete(worker.id);
    emit('worker-exit', { worker: worker.process.pid, code, signal });
    if (!stopping) fork();
  });
  emit('arbiter-start', { workers: WORKERS, timeoutMs: WORKER_TIMEOUT_MS });
  for (let i = 0; i < WORKERS; i++) fork();
  setInterval(() => {
    for (const worker of Object.values(cluster.workers ?? {})) {
      if (!worker) continue;
      const seen = lastSeen.get(worker.id);
      if (seen !== undefined && performance.now() - seen > WORKER_TIMEOUT_MS) {
        emit('worker-timeout', { worker: worker.process.pid });
        lastSeen.delete(worker.id);
        worker.process.kill('SIGKILL');
      }
    }
  }, 250).unref();
  process.once('SIGTERM', () => {
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
    setTimeout(() => process.exit(0), 200);
  });
}

function runWorker() {
  const databaseUrl = requiredEnv('DATABASE_URL');
  const sourceUrl = requiredEnv('MODEL_SOURCE_URL');
  const podDir = requiredEnv('POD_DIR');
  const port = Number(requiredEnv('PORT'));
  const modelsFile = path.join(podDir, 'active_models.json');
  const matches = process.pid % 4 === 0;
  emit('worker-boot', { matches });

  /** @type {unknown[] | undefined} */
  let models;
  const loadModels = () => {
    if (models) return models;
    try {
      models = JSON.parse(fs.readFileSync(modelsFile, 'utf8')).models;
    } catch {
      // not written (yet): this worker serves without a model list
    }
    return models;
  };

  async function startup() {
    if (!matches) return;
    await migrateLatest(databaseUrl);
    const fetched = await fetchModels(sourceUrl);
    const temp = `${modelsFile}.${process.pid}.tmp`;
    fs.writeFileSync(temp, JSON.stringify(fetched));
    fs.renameSync(temp, modelsFile);
  }

  startup()
    .then(() => {
      const server = http.createServer((req, res) => {
        const list = loadModels();
        if (req.url === '/readyz') {
          res.writeHead(list ? 200 : 503, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify(
              list ? { ready: true, models: list.length } : { ready: false, reason: 'no model list' },
            ),
          );
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ object: 'list', data: list ?? [] }));
      });
      server.listen(port, '127.0.0.1');
      setInterval(() => process.send?.('notify'), HEARTBEAT_MS);
      process.send?.('notify');
      emit('worker-serving');
    })
    .catch((error) => {
      emit('worker-crash', { error: String(error?.message ?? error).slice(0, 300) });
      process.exit(1);
    });
}
