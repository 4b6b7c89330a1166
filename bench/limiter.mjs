// @ts-check
// `npm run bench:limiter`: how to hold one key's limits across replicas. N replica processes (3 and 10) admit
// requests of one key through each mechanism (bench/limiter-worker.mjs), against one PostgreSQL (and one Redis):
//   throughput  limits never reached: admissions/s, latency of a decision, CPU per admission (the replica's and
//               the whole machine's, the database or Redis included), round trips per admission
//   exact       a limit of 1200 requests and 120 000 tokens in the window, every replica at full speed: how many
//               were admitted (never more than the limit; fewer is what leases held unspent)
//   idle        a moderate rate, then the load stops: permits the replicas hold unspent at that moment
// Redis runs only when redis-server is installed (Debian's package); it is left out of the results otherwise.
// Results: bench/results/limiter.json. BENCH_QUICK=1: one round of 2 s runs.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import {
  distDir,
  log,
  median,
  quantile,
  quick,
  repoRoot,
  round,
  scratchDir,
  sleep,
  writeResult,
} from './lib/common.mjs';
import { describeBuild, describeMachine } from './lib/machine.mjs';
import { startPostgres } from './lib/postgres.mjs';
import { spawnNode, stopAll, stopOnInterrupt } from './lib/processes.mjs';
import { freePort } from '../test/support/ports.mjs';

const require = createRequire(import.meta.url);
const replicaCounts = [3, 10];
const rounds = quick ? 1 : 2;
const durationMs = quick ? 2_000 : 5_000;
const concurrency = 8;
const tokensPerRequest = 100;
const EXACT_LIMIT = 1_200;
const UNREACHABLE = 1_000_000_000_000;

if (!fs.existsSync(path.join(distDir, 'app', 'api', 'limits', 'lease-limiter.js'))) {
  console.error('dist/ has no limiter; run `npm run build` first (npm run bench:limiter does).');
  process.exit(2);
}

function redisAvailable() {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

async function startRedis() {
  const port = await freePort();
  const dir = scratchDir('redis');
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: 'ignore' },
  );
  for (let i = 0; i < 100; i++) {
    if (spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout?.trim() === 'PONG')
      return { port, stop: () => (child.kill('SIGKILL'), fs.rmSync(dir, { recursive: true, force: true })) };
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error('redis-server did not answer PING');
}

/** Busy and total jiffies of the whole machine. */
function machineCpu() {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}
const TICK_US =
  1_000_000 / Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

/**
 * @param {{ mechanism: string, replicas: number, scenario: 'throughput' | 'exact' | 'idle',
 *   databaseUrl: string, redisPort?: number, newKey: () => Promise<string> }} run
 */
async function runOnce(run) {
  const keyId = await run.newKey();
  const limited = run.scenario === 'exact';
  const job = {
    mechanism: run.mechanism,
    databaseUrl: run.databaseUrl,
    redisPort: run.redisPort,
    keyId,
    requestsLimit: limited ? EXACT_LIMIT : UNREACHABLE,
    tokensLimit: limited ? EXACT_LIMIT * tokensPerRequest : UNREACHABLE,
    tokensPerRequest,
    windowMs: 600_000,
    concurrency: run.scenario === 'idle' ? 2 : concurrency,
    durationMs: run.scenario === 'idle' ? Math.min(durationMs, 3_000) : durationMs,
    startAt: Date.now() + 1_500 + run.replicas * 150,
    pauseMs: run.scenario === 'idle' ? 5 : 0,
  };
  const workers = Array.from({ length: run.replicas }, (_, i) =>
    spawnNode(`${run.mechanism}-${i}`, [path.join(repoRoot, 'bench', 'limiter-worker.mjs')], {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      NODE_ENV: 'production',
      BENCH_DIST: distDir,
      LIMITER_JOB: JSON.stringify(job),
    }),
  );
  const waitStart = job.startAt - Date.now();
  if (waitStart > 0) await sleep(waitStart);
  const cpuBefore = machineCpu();
  const exits = await Promise.all(workers.map((w) => w.exited));
  const cpuAfter = machineCpu();
  const results = workers.map((w, i) => {
    if (exits[i]?.code !== 0) throw new Error(`${w.name} failed (${exits[i]?.code}):\n${w.output()}`);
    return JSON.parse(w.output().trim().split('\n').at(-1) ?? '{}');
  });
  const admitted = results.reduce((n, r) => n + r.admitted, 0);
  const warm = results.reduce((n, r) => n + r.warmAdmitted, 0);
  const elapsedMs = Math.max(...results.map((r) => r.elapsedMs));
  const latencies = results.flatMap((r) => r.latenciesUs);
  const calls = results.reduce((n, r) => n + r.calls, 0);
  return {
    mechanism: run.mechanism,
    replicas: run.replicas,
    scenario: run.scenario,
    admitted: admitted + warm,
    admittedPerSecond: Math.round(admitted / (elapsedMs / 1000)),
    decisionsPerSecond: Math.round(calls / (elapsedMs / 1000)),
    latencyUs: { p50: Math.round(quantile(latencies, 0.5)), p99: Math.round(quantile(latencies, 0.99)) },
    replicaCpuUsPerDecision: round(results.reduce((n, r) => n + r.cpuUs, 0) / calls, 1),
    machineCpuUsPerDecision: round(((cpuAfter.busy - cpuBefore.busy) * TICK_US) / calls, 1),
    roundTripsPerDecision: round(results.reduce((n, r) => n + r.roundTrips, 0) / calls, 4),
    heldAtStop: results.reduce((n, r) => n + r.heldAtStop, 0),
  };
}

async function main() {
  const machine = describeMachine();
  const build = describeBuild(repoRoot);
  const postgres = await startPostgres();
  const databaseUrl = await postgres.createDatabase('bench_limiter');
  const { migratorConfig } = require(path.join(distDir, 'core', 'db', 'migrations.js'));
  const knex = require('knex');
  const db = knex({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 2 } });
  await db.migrate.latest(migratorConfig());
  const [user] = await db('users').insert({ name: 'bench' }).returning('id');
  let keys = 0;
  const newKey = async () => {
    keys += 1;
    const [key] = await db('api_keys')
      .insert({
        user_id: user.id,
        prefix: `bench${String(keys).padStart(7, '0')}`,
        secret_sha256: Buffer.alloc(32),
      })
      .returning('id');
    return /** @type {string} */ (key.id);
  };
  const redis = redisAvailable() ? await startRedis() : undefined;
  stopOnInterrupt(async () => {
    redis?.stop();
    await postgres.stop();
  });
  if (!redis) log('redis-server is not installed: the redis-lua mechanism is left out');
  const mechanisms = ['pg-atomic', 'pg-lease', ...(redis ? ['redis-lua'] : [])];
  /** @type {any[]} */
  const runs = [];
  try {
    for (let r = 0; r < rounds; r++) {
      for (const replicas of replicaCounts) {
        // Rotated per round, so no mechanism always runs first on a machine that warms up.
        const order = mechanisms.map(
          (_, i) => /** @type {string} */ (mechanisms[(i + r) % mechanisms.length]),
        );
        for (const mechanism of order) {
          for (const scenario of /** @type {const} */ (['throughput', 'exact', 'idle'])) {
            if (scenario === 'idle' && mechanism !== 'pg-lease') continue;
            const result = await runOnce({
              mechanism,
              replicas,
              scenario,
              databaseUrl,
              redisPort: redis?.port,
              newKey,
            });
            log(
              `${mechanism} x${replicas} ${scenario}: ${result.admittedPerSecond}/s admitted, p50 ${result.latencyUs.p50} us, ` +
                `${result.machineCpuUsPerDecision} machine-CPU us/decision, ${result.roundTripsPerDecision} round trips/decision, ` +
                `admitted ${result.admitted}, held at stop ${result.heldAtStop}`,
            );
            runs.push({ round: r, ...result });
          }
        }
      }
    }
  } finally {
    redis?.stop();
    await db.destroy();
    await stopAll();
    await postgres.stop();
  }
  writeResult('limiter', {
    machine,
    machineAtEnd: describeMachine(),
    build,
    settings: { durationMs, concurrency, tokensPerRequest, exactLimit: EXACT_LIMIT, rounds, replicaCounts },
    mechanisms,
    runs,
    summary: summarise(runs),
  });
}

/** Medians over rounds per mechanism, replica count and scenario. */
function summarise(/** @type {any[]} */ runs) {
  /** @type {Map<string, any[]>} */
  const groups = new Map();
  for (const run of runs) {
    const id = `${run.mechanism}|${run.replicas}|${run.scenario}`;
    groups.set(id, [...(groups.get(id) ?? []), run]);
  }
  return [...groups.values()].map((group) => {
    const pick = (/** @type {(r: any) => number} */ f) => median(group.map(f));
    return {
      mechanism: group[0].mechanism,
      replicas: group[0].replicas,
      scenario: group[0].scenario,
      admittedPerSecond: Math.round(pick((r) => r.admittedPerSecond)),
      decisionsPerSecond: Math.round(pick((r) => r.decisionsPerSecond)),
      latencyP50Us: Math.round(pick((r) => r.latencyUs.p50)),
      latencyP99Us: Math.round(pick((r) => r.latencyUs.p99)),
      replicaCpuUsPerDecision: round(
        pick((r) => r.replicaCpuUsPerDecision),
        1,
      ),
      machineCpuUsPerDecision: round(
        pick((r) => r.machineCpuUsPerDecision),
        1,
      ),
      roundTripsPerDecision: round(
        pick((r) => r.roundTripsPerDecision),
        4,
      ),
      admitted: group.map((r) => r.admitted),
      heldAtStop: group.map((r) => r.heldAtStop),
    };
  });
}

main().catch(async (error) => {
  console.error(error);
  await stopAll();
  process.exit(1);
});
