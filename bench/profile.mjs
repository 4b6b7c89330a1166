// @ts-check
// Profiles modelgate-app (the build, run as in production) with V8's --cpu-prof and summarises the profile by
// function and module (bench/lib/cpuprofile.mjs):
//   node bench/profile.mjs proxy [plain|stream ...] [--target express|node-http|modelgate-no-limits]
//                                   chat completions under load (50 connections), one process per mode, every
//                                   feature on; --target profiles a floor (express, node-http) the same way, or
//                                   modelgate with limits and the usage ledger off, for comparison
//   node bench/profile.mjs startup                    process start until /readyz answers 200
//   node bench/profile.mjs summary <file.cpuprofile> [--top N]
// Profiles and their summaries go to bench/results/profiles/. BENCH_PROFILE_SECONDS sets the load's length (20 s),
// BENCH_PROFILE_CONNECTIONS its concurrency (50).
import fs from 'node:fs';
import path from 'node:path';
import { assertBuilt, log, now, resultsDir, round, scratchDir } from './lib/common.mjs';
import { formatSummary, readProfile } from './lib/cpuprofile.mjs';
import { startLoad } from './lib/load.mjs';
import { startModelSource } from './lib/model-source.mjs';
import { startPostgres } from './lib/postgres.mjs';
import { cpuSecondsOf, stopAll } from './lib/processes.mjs';
import { preparePod, startApp } from './lib/app-fixture.mjs';
import { requestBody, startFloor, startModelgate, startUpstream } from './lib/proxy-targets.mjs';

const outDir = path.join(resultsDir, 'profiles');
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

/**
 * @param {('plain' | 'stream')[]} modes
 * @param {'modelgate' | 'modelgate-no-limits' | 'express' | 'node-http'} targetName
 */
async function profileProxy(modes, targetName) {
  const pg = await startPostgres();
  const source = await startModelSource({ delayMs: 0 });
  const dir = scratchDir('profile');
  const upstream = await startUpstream(dir);
  try {
    for (const mode of modes) {
      const profileDir = path.join(dir, `cpu-${mode}`);
      const nodeArgs = ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
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
      const result = await load(SECONDS);
      const cpu = cpuSecondsOf(app.pid) - cpuBefore;
      log(
        `${mode}: ${round(result.requests.total / result.duration, 0)} req/s under the profiler, ${Math.round((cpu * 1e6) / result.requests.total)} CPU-µs per request, ${result.errors + result.non2xx} errors`,
      );
      await app.stop();
      const prefix = `${targetName === 'modelgate' ? 'proxy' : `proxy-${targetName}`}${CONNECTIONS === 50 ? '' : `-c${CONNECTIONS}`}`;
      const summary = keep(
        newestProfile(profileDir),
        `${prefix}-${mode}`,
        `${targetName === 'modelgate' ? 'modelgate-app, every feature on' : targetName === 'modelgate-no-limits' ? 'modelgate-app, limits and usage ledger off' : `the ${targetName} floor`}, POST /v1/chat/completions ${mode}, ${CONNECTIONS} connection${CONNECTIONS === 1 ? '' : 's'}, ${SECONDS} s after a 3 s warm-up (the whole process life is profiled: start-up and warm-up are a small part)`,
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
  if (command === 'proxy') {
    const targetAt = rest.indexOf('--target');
    const target = /** @type {any} */ (targetAt >= 0 ? rest[targetAt + 1] : 'modelgate');
    if (!['modelgate', 'modelgate-no-limits', 'express', 'node-http'].includes(target))
      throw new Error(`--target ${target}: choose modelgate, modelgate-no-limits, express or node-http`);
    const named = rest.filter((a, i) => !a.startsWith('--') && (targetAt < 0 || i !== targetAt + 1));
    const modes = /** @type {('plain' | 'stream')[]} */ (named.length ? named : ['plain', 'stream']);
    await profileProxy(modes, target);
  } else if (command === 'startup') await profileStartup();
  else throw new Error(`unknown command ${command}; use proxy, startup or summary`);
}

main().catch(async (error) => {
  console.error(error);
  await stopAll();
  process.exit(1);
});
