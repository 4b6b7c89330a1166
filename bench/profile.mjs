// @ts-check
// Profiles modelgate-app (the build, run as in production) with V8's --cpu-prof and summarises the profile by
// function and module (bench/lib/cpuprofile.mjs):
//   node bench/profile.mjs proxy [plain|stream ...] [--target express|node-http|modelgate-no-limits]
//                                   chat completions under load (50 connections), one process per mode, every
//                                   feature on; --target profiles a floor (express, node-http) the same way, or
//                                   modelgate with limits and the usage ledger off, for comparison
//   node bench/profile.mjs alloc [plain|stream ...] [--target ...]
//                                   the same load, with V8's sampling heap profiler instead (bench/lib/heap-sampler.cjs):
//                                   the bytes each function and package allocate per request, garbage included
//   node bench/profile.mjs startup                    process start until /readyz answers 200
//   node bench/profile.mjs summary <file.cpuprofile> [--top N]
// Profiles and their summaries go to bench/results/profiles/. BENCH_PROFILE_SECONDS sets the load's length (20 s),
// BENCH_PROFILE_CONNECTIONS its concurrency (50).
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { assertBuilt, log, now, resultsDir, round, scratchDir } from './lib/common.mjs';
import { formatSummary, readProfile } from './lib/cpuprofile.mjs';
import { formatAllocations } from './lib/heapprofile.mjs';
import { startLoad } from './lib/load.mjs';
import { startModelSource } from './lib/model-source.mjs';
import { startPostgres } from './lib/postgres.mjs';
import { cpuSecondsOf, stopAll } from './lib/processes.mjs';
import { preparePod, startApp } from './lib/app-fixture.mjs';
import { requestBody, startFloor, startModelgate, startUpstream } from './lib/proxy-targets.mjs';

const outDir = path.join(resultsDir, 'profiles');
const require = createRequire(import.meta.url);
const HEAP_SAMPLER = require.resolve('./lib/heap-sampler.cjs');
/** @type {{ allocationProfilePath: (pid: number) => string }} */
const { allocationProfilePath } = require(HEAP_SAMPLER);
const SECONDS = Number(process.env.BENCH_PROFILE_SECONDS ?? 20);
/** BENCH_PROFILE_CONNECTIONS: the load's concurrency (50); 1 shows what a lone request waits for. */
const CONNECTIONS = Number(process.env.BENCH_PROFILE_CONNECTIONS ?? 50);

/** @param {string} dir @returns {string} the newest .cpuprofile in dir */
function newestProfile(dir) {
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => path.join(dir, f))
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  if (!files[0]) throw new Error(`no .cpuprofile was written in ${dir}`);
  return files[0];
}

/**
 * Keeps the profile under bench/results/profiles/<name>.cpuprofile and writes its summary beside it (of the
 * samples up to `untilMicros` on the profile's clock).
 * @param {string} file @param {string} name @param {string} title @param {number} [untilMicros]
 */
function keep(file, name, title, untilMicros = Infinity) {
  fs.mkdirSync(outDir, { recursive: true });
  const kept = path.join(outDir, `${name}.cpuprofile`);
  fs.copyFileSync(file, kept);
  const summary = formatSummary(readProfile(kept), { title, untilMicros });
  fs.writeFileSync(path.join(outDir, `${name}.md`), `${summary}\n`);
  log(`wrote ${path.relative(process.cwd(), kept)} and its summary ${name}.md`);
  return summary;
}

/** @typedef {'modelgate' | 'modelgate-no-limits' | 'express' | 'node-http'} ProfiledTarget */

/** @param {ProfiledTarget} targetName */
function describeTarget(targetName) {
  if (targetName === 'modelgate') return 'modelgate-app, every feature on';
  if (targetName === 'modelgate-no-limits') return 'modelgate-app, limits and usage ledger off';
  return `the ${targetName} floor`;
}

/**
 * Chat completions under load through one target per mode, profiled: `cpu` with --cpu-prof (the whole process
 * life), `alloc` with the sampling heap profiler (bench/lib/heap-sampler.cjs) over the measured load only.
 * @param {('plain' | 'stream')[]} modes @param {ProfiledTarget} targetName @param {'cpu' | 'alloc'} kind
 */
async function profileProxy(modes, targetName, kind) {
  const pg = await startPostgres();
  const source = await startModelSource({ delayMs: 0 });
  const dir = scratchDir('profile');
  const upstream = await startUpstream(dir);
  try {
    for (const mode of modes) {
      const profileDir = path.join(dir, `cpu-${mode}`);
      const nodeArgs =
        kind === 'cpu' ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : ['--require', HEAP_SAMPLER];
      const app =
        targetName === 'modelgate' || targetName === 'modelgate-no-limits'
          ? await startModelgate({
              pg,
              source,
              upstreamBase: upstream.base,
              dir,
              nodeArgs,
              features: targetName === 'modelgate' ? 'all' : 'no-limits',
            })
          : await startFloor(targetName, upstream.base, dir, nodeArgs);
      const load = (/** @type {number} */ seconds) =>
        startLoad({
          url: app.url,
          method: 'POST',
          headers: { 'content-type': 'application/json', ...app.headers },
          body: requestBody(mode),
          connections: CONNECTIONS,
          duration: seconds,
        }).done;
      await load(3);
      const cpuBefore = cpuSecondsOf(app.pid);
      if (kind === 'alloc') process.kill(app.pid, 'SIGUSR2');
      const result = await load(SECONDS);
      const cpu = cpuSecondsOf(app.pid) - cpuBefore;
      const allocations = kind === 'alloc' ? await takeAllocationProfile(app.pid) : undefined;
      log(
        `${mode}: ${round(result.requests.total / result.duration, 0)} req/s under the profiler, ${Math.round((cpu * 1e6) / result.requests.total)} CPU-µs per request, ${result.errors + result.non2xx} errors`,
      );
      await app.stop();
      const prefix = `${targetName === 'modelgate' ? 'proxy' : `proxy-${targetName}`}${CONNECTIONS === 50 ? '' : `-c${CONNECTIONS}`}`;
      const what = `${describeTarget(targetName)}, POST /v1/chat/completions ${mode}, ${CONNECTIONS} connection${CONNECTIONS === 1 ? '' : 's'}`;
      const summary = allocations
        ? keepAllocations(allocations, `alloc-${prefix}-${mode}`, {
            title: `${what}, ${SECONDS} s after a 3 s warm-up (only those ${SECONDS} s are sampled)`,
            requests: result.requests.total,
          })
        : keep(
            newestProfile(profileDir),
            `${prefix}-${mode}`,
            `${what}, ${SECONDS} s after a 3 s warm-up (the whole process life is profiled: start-up and warm-up are a small part)`,
          );
      process.stdout.write(`${summary}\n`);
    }
  } finally {
    await upstream.target.stop();
    await source.close();
    await pg.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Stops the sampling the target's heap-sampler began (its second SIGUSR2) and reads the profile it writes.
 * @param {number} pid
 */
async function takeAllocationProfile(pid) {
  const file = allocationProfilePath(pid);
  process.kill(pid, 'SIGUSR2');
  const deadline = now() + 60_000;
  while (!fs.existsSync(file)) {
    if (now() > deadline) throw new Error(`the allocation profile ${file} was not written within 60 s`);
    await sleep(100);
  }
  const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
  fs.rmSync(file);
  if (profile.error) throw new Error(`the heap profiler failed: ${profile.error}`);
  return profile;
}

/**
 * Keeps an allocation profile under bench/results/profiles/<name>.heapprofile and writes its summary beside it.
 * @param {import('./lib/heapprofile.mjs').HeapProfile} profile @param {string} name
 * @param {{ title: string, requests: number }} options
 */
function keepAllocations(profile, name, options) {
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, `${name}.heapprofile`), JSON.stringify(profile));
  const summary = formatAllocations(profile, options);
  fs.writeFileSync(path.join(outDir, `${name}.md`), `${summary}\n`);
  log(`wrote bench/results/profiles/${name}.heapprofile and its summary ${name}.md`);
  return summary;
}

/**
 * Process start to ready, without the API key the proxy runs create: the profile is summarised up to the moment
 * the app logged that it listens (its `sinceStartMs`, counted from the profile's start, which is a few ms after
 * the process'), then in whole.
 */
async function profileStartup() {
  const pg = await startPostgres();
  const source = await startModelSource({ delayMs: 0 });
  const dir = scratchDir('profile');
  try {
    const pod = await preparePod(pg, source.url, 'bench_profile');
    const profileDir = path.join(dir, 'cpu-startup');
    const logFile = path.join(dir, 'app.log');
    const started = now();
    const app = await startApp({
      databaseUrl: pod.databaseUrl,
      modelsFile: pod.modelsFile,
      env: { LOG_LEVEL: 'info', SHUTDOWN_DELAY: '0s' },
      nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, '--cpu-prof-interval=100'],
      logFile,
    });
    const readyMs = Math.round(now() - started);
    const cpu = cpuSecondsOf(app.child.pid);
    app.child.kill('SIGTERM');
    await app.child.exited;
    const listening = fs
      .readFileSync(logFile, 'utf8')
      .split('\n')
      .map((line) => (line.startsWith('{') ? JSON.parse(line) : {}))
      .find((line) => line.msg === 'modelgate-app listening');
    const listenMs = listening?.sinceStartMs;
    log(
      `listening at ${listenMs} ms (process uptime), ready seen ${readyMs} ms after the spawn; CPU ${cpu} s by then`,
    );
    const file = newestProfile(profileDir);
    const profile = readProfile(file);
    const untilListen = listenMs === undefined ? Infinity : profile.startTime + listenMs * 1000;
    const first = keep(
      file,
      'startup-to-listen',
      `modelgate-app from process start until it listens (${listenMs} ms), sampled every 100 µs`,
      untilListen,
    );
    const whole = keep(
      file,
      'startup',
      'modelgate-app from process start to ready and its SIGTERM exit, sampled every 100 µs',
    );
    process.stdout.write(`${first}\n${whole}\n`);
  } finally {
    await source.close();
    await pg.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const [command = 'proxy', ...rest] = process.argv.slice(2);
  if (command === 'summary') {
    const file = rest.find((a) => !a.startsWith('--'));
    if (!file) throw new Error('usage: node bench/profile.mjs summary <file.cpuprofile> [--top N]');
    const topAt = rest.indexOf('--top');
    const top = topAt >= 0 ? Number(rest[topAt + 1]) : undefined;
    process.stdout.write(`${formatSummary(readProfile(file), { top })}\n`);
    return;
  }
  assertBuilt();
  if (command === 'proxy' || command === 'alloc') {
    const targetAt = rest.indexOf('--target');
    const target = /** @type {any} */ (targetAt >= 0 ? rest[targetAt + 1] : 'modelgate');
    if (!['modelgate', 'modelgate-no-limits', 'express', 'node-http'].includes(target))
      throw new Error(`--target ${target}: choose modelgate, modelgate-no-limits, express or node-http`);
    const named = rest.filter((a, i) => !a.startsWith('--') && (targetAt < 0 || i !== targetAt + 1));
    const modes = /** @type {('plain' | 'stream')[]} */ (named.length ? named : ['plain', 'stream']);
    await profileProxy(modes, target, command === 'alloc' ? 'alloc' : 'cpu');
  } else if (command === 'startup') await profileStartup();
  else throw new Error(`unknown command ${command}; use proxy, alloc, startup or summary`);
}

main().catch(async (error) => {
  console.error(error);
  await stopAll();
  process.exit(1);
});
