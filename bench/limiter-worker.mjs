// @ts-check
// One replica of bench/limiter.mjs: admits requests of one key as fast as `concurrency` loops allow, through one
// limit mechanism, and prints one JSON line with what it admitted and what that cost. Started by bench/limiter.mjs.
//   pg-atomic  one INSERT ... ON CONFLICT DO UPDATE per request (the shared count, no lease)
//   pg-lease   the app's LeaseLimiter: permits leased from the same count, spent locally
//   redis-lua  one EVALSHA per request: a fixed window in Redis
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.resolve(root, process.env.BENCH_DIST ?? 'dist');

/** @type {{ mechanism: 'pg-atomic' | 'pg-lease' | 'redis-lua', databaseUrl: string, redisPort?: number,
 *   keyId: string, requestsLimit: number, tokensLimit: number, tokensPerRequest: number, windowMs: number,
 *   concurrency: number, durationMs: number, startAt: number, pauseMs: number }} */
const job = JSON.parse(process.env.LIMITER_JOB ?? '{}');

const REDIS_WINDOW = `
local results = {}
for i, key in ipairs(KEYS) do
  local amount = tonumber(ARGV[i * 2 - 1])
  local limit = tonumber(ARGV[i * 2])
  local taken = tonumber(redis.call('GET', key) or '0')
  if taken + amount > limit then return {0, i} end
end
for i, key in ipairs(KEYS) do
  local amount = tonumber(ARGV[i * 2 - 1])
  if redis.call('INCRBY', key, amount) == amount then redis.call('PEXPIRE', key, ARGV[#ARGV]) end
end
return {1, 0}`;

/** @returns {Promise<{ admit: () => Promise<boolean>, roundTrips: () => number, leased?: () => number, close: () => Promise<void> }>} */
async function mechanism() {
  const needs = [
    { dimension: 'requests', amount: 1, limit: job.requestsLimit },
    { dimension: 'tokens', amount: job.tokensPerRequest, limit: job.tokensLimit },
  ];
  if (job.mechanism === 'redis-lua') {
    const { Redis } = await import('ioredis');
    const redis = new Redis({
      host: '127.0.0.1',
      port: job.redisPort,
      lazyConnect: true,
      enableAutoPipelining: false,
    });
    await redis.connect();
    const sha = /** @type {string} */ (await redis.script('LOAD', REDIS_WINDOW));
    const keys = [`rl:${job.keyId}:requests`, `rl:${job.keyId}:tokens`];
    const args = [1, job.requestsLimit, job.tokensPerRequest, job.tokensLimit, job.windowMs];
    let trips = 0;
    return {
      async admit() {
        trips += 1;
        const [ok] = /** @type {[number, number]} */ (
          await redis.evalsha(sha, keys.length, ...keys, ...args)
        );
        return ok === 1;
      },
      roundTrips: () => trips,
      close: async () => void (await redis.quit()),
    };
  }
  const { createDatabase } = require(path.join(dist, 'core/db/connection.js'));
  const { KnexCounterStore } = require(path.join(dist, 'app/api/limits/counter-store-knex.js'));
  const db = createDatabase({ url: job.databaseUrl, poolMax: 10, applicationName: 'modelgate-bench' });
  const store = new KnexCounterStore(db, { windowMs: job.windowMs });
  let trips = 0;
  let leased = 0;
  const counted = {
    take: async (/** @type {string} */ keyId, /** @type {unknown} */ takes) => {
      trips += 1;
      const result = await store.take(keyId, takes);
      for (const g of result.grants) if (g.dimension === 'requests') leased += g.granted;
      return result;
    },
    adjust: (
      /** @type {string} */ keyId,
      /** @type {{ dimension: string, delta: number }[]} */ adjustments,
    ) => {
      trips += 1;
      for (const a of adjustments) if (a.dimension === 'requests') leased += a.delta;
      return store.adjust(keyId, adjustments);
    },
  };
  if (job.mechanism === 'pg-atomic') {
    // Atomic per request, all-or-nothing per dimension: a request is admitted only if both take their amount.
    return {
      async admit() {
        const result = await counted.take(
          job.keyId,
          needs.map((n) => ({ dimension: n.dimension, want: n.amount, limit: n.limit })),
        );
        /** @type {{ dimension: string, granted: number, windowEnd: number }[]} */
        const grants = result.grants;
        const ok = needs.every((n) => grants.find((g) => g.dimension === n.dimension)?.granted === n.amount);
        if (!ok) {
          const back = grants
            .filter((g) => g.granted > 0)
            .map((g) => ({ dimension: g.dimension, windowEnd: g.windowEnd, delta: -g.granted }));
          if (back.length > 0) await counted.adjust(job.keyId, back);
        }
        return ok;
      },
      roundTrips: () => trips,
      leased: () => leased,
      close: () => db.destroy(),
    };
  }
  const { LeaseLimiter } = require(path.join(dist, 'app/api/limits/lease-limiter.js'));
  const limiter = new LeaseLimiter(counted, {
    leaseMs: 100,
    headroomShare: 8,
    idleReturnMs: 1_000,
    recheckMs: 250,
    windowMs: job.windowMs,
  });
  limiter.start();
  return {
    async admit() {
      return (await limiter.acquire(job.keyId, needs)).ok;
    },
    roundTrips: () => trips,
    leased: () => leased,
    close: async () => {
      await limiter.close();
      await db.destroy();
    },
  };
}

async function main() {
  const m = await mechanism();
  const warmAdmitted = (await m.admit()) ? 1 : 0; // connect and warm up before the clock starts
  const warmTrips = m.roundTrips();
  const wait = job.startAt - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  const cpuStart = process.cpuUsage();
  const started = performance.now();
  const deadline = started + job.durationMs;
  let admitted = 0;
  let refused = 0;
  /** @type {number[]} */
  const latencies = [];
  async function loop() {
    while (performance.now() < deadline) {
      const t = performance.now();
      const ok = await m.admit();
      latencies.push((performance.now() - t) * 1000);
      if (ok) admitted += 1;
      else refused += 1;
      if (job.pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, job.pauseMs));
    }
  }
  await Promise.all(Array.from({ length: job.concurrency }, loop));
  const elapsed = performance.now() - started;
  const cpu = process.cpuUsage(cpuStart);
  const trips = m.roundTrips() - warmTrips;
  // Permits this replica holds unspent when the load stops: what the others could not have had in this window.
  const heldAtStop = m.leased ? m.leased() - admitted - warmAdmitted : 0;
  await m.close();
  process.stdout.write(
    `${JSON.stringify({
      admitted,
      warmAdmitted,
      heldAtStop,
      refused,
      calls: latencies.length,
      elapsedMs: elapsed,
      cpuUs: cpu.user + cpu.system,
      roundTrips: trips,
      latenciesUs: sample(latencies, 2_000),
    })}\n`,
  );
}

/** @param {number[]} values @param {number} n */
function sample(values, n) {
  if (values.length <= n) return values.map((v) => Math.round(v));
  const step = values.length / n;
  return Array.from({ length: n }, (_, i) => Math.round(values[Math.floor(i * step)] ?? 0));
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exit(1);
});
