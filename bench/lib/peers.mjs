// @ts-check
// The peers of the proxy benchmark, installed by the benchmark itself into bench/.peers/ (git-ignored) and reused by
// later runs: LiteLLM's proxy from PyPI in a virtual environment, Portkey's gateway from npm. An install that fails
// is reported with its output, never hidden; it is tried again on the next run.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { log, repoRoot } from './common.mjs';

export const PEERS_DIR = path.join(repoRoot, 'bench', '.peers');
export const LITELLM_VERSION = '1.110.2';
export const PORTKEY_VERSION = '1.15.2';

/**
 * @typedef {{ ok: true, cached: boolean, seconds: number, dir: string, notes: string[] }
 *   | { ok: false, error: string, seconds: number, dir: string }} PeerInstall
 */

/**
 * Runs a command with its output appended to `logFile`; rejects with the output's tail when it fails.
 * @param {string} command @param {string[]} args @param {{ cwd: string, logFile: string, env?: NodeJS.ProcessEnv,
 *   timeoutMs?: number }} options
 * @returns {Promise<string>} what it printed on stdout
 */
function run(command, args, options) {
  return new Promise((resolve, reject) => {
    fs.appendFileSync(options.logFile, `\n$ ${command} ${args.join(' ')}\n`);
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let all = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20 * 60_000);
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      all += chunk;
      fs.appendFileSync(options.logFile, chunk);
    });
    child.stderr.on('data', (chunk) => {
      all += chunk;
      fs.appendFileSync(options.logFile, chunk);
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`${command}: ${error.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else
        reject(
          new Error(
            `${path.basename(command)} ${args.slice(0, 3).join(' ')} failed (${signal ?? `exit ${code}`}):\n${all.slice(-3000)}`,
          ),
        );
    });
  });
}

/**
 * Installs once into `dir`: `install` runs only when `dir/installed.json` is missing, and that file is written only
 * after it succeeded.
 * @param {string} name @param {string} dir @param {(logFile: string) => Promise<string[]>} install returns notes
 * @returns {Promise<PeerInstall>}
 */
async function installOnce(name, dir, install) {
  const marker = path.join(dir, 'installed.json');
  const started = performance.now();
  if (fs.existsSync(marker)) {
    const { notes } = JSON.parse(fs.readFileSync(marker, 'utf8'));
    return { ok: true, cached: true, seconds: 0, dir, notes };
  }
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const logFile = path.join(dir, 'install.log');
  log(`installing ${name} into ${path.relative(repoRoot, dir)} (once; later runs reuse it)`);
  try {
    const notes = await install(logFile);
    fs.writeFileSync(marker, `${JSON.stringify({ name, notes, at: new Date().toISOString() }, null, 2)}\n`);
    const seconds = Math.round((performance.now() - started) / 100) / 10;
    log(`installed ${name} in ${seconds} s`);
    return { ok: true, cached: false, seconds, dir, notes };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log(`installing ${name} failed: ${message.split('\n')[0]}`);
    return { ok: false, error: message, seconds: (performance.now() - started) / 1000, dir };
  }
}

/**
 * The requirements of litellm's `proxy` extra, read from the installed wheel's METADATA and evaluated for this
 * interpreter, without `litellm-proxy`: that pin names a package that is not published.
 */
const PROXY_EXTRA_REQUIREMENTS = `
import importlib.metadata, json
from packaging.requirements import Requirement
out = []
for line in importlib.metadata.requires('litellm') or []:
    req = Requirement(line)
    if req.marker is None or 'extra' not in str(req.marker) or not req.marker.evaluate({'extra': 'proxy'}):
        continue
    if req.name == 'litellm-proxy':
        continue
    req.marker = None
    out.append(str(req))
print(json.dumps(out))
`;

export const litellmDir = path.join(PEERS_DIR, `litellm-${LITELLM_VERSION}`);
export const litellmBin = path.join(litellmDir, 'venv', 'bin', 'litellm');

/** LiteLLM from PyPI: `litellm==VERSION` plus its proxy extra's other requirements, in a virtual environment. */
export function installLiteLLM() {
  return installOnce(`LiteLLM ${LITELLM_VERSION}`, litellmDir, async (logFile) => {
    const python = process.env.BENCH_PYTHON ?? 'python3';
    const cwd = litellmDir;
    await run(python, ['-m', 'venv', path.join(litellmDir, 'venv')], { cwd, logFile });
    const venvPython = path.join(litellmDir, 'venv', 'bin', 'python');
    const pip = (/** @type {string[]} */ packages) =>
      run(venvPython, ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', ...packages], {
        cwd,
        logFile,
      });
    await pip([`litellm==${LITELLM_VERSION}`]);
    /** @type {string[]} */
    let extra = JSON.parse(await run(venvPython, ['-c', PROXY_EXTRA_REQUIREMENTS], { cwd, logFile }));
    const wanted = extra.length;
    // Other exact pins of the extra may name releases that are not published either (litellm imports those
    // packages optionally): each one pip cannot find is left out, named in the notes, and the rest installed.
    /** @type {string[]} */
    const unpublished = [];
    for (;;) {
      try {
        await pip(extra);
        break;
      } catch (error) {
        const missing = /No matching distribution found for (\S+)/.exec(String(error))?.[1];
        if (!missing || unpublished.length >= 5) throw error;
        unpublished.push(missing);
        extra = extra.filter((requirement) => requirement !== missing);
        log(`LiteLLM's proxy extra pins ${missing}, which is not published; installing without it`);
      }
    }
    const version = (await run(venvPython, ['--version'], { cwd, logFile })).trim();
    return [
      `${version}; litellm==${LITELLM_VERSION} and ${extra.length} of the ${wanted} other requirements of its proxy extra; not published, so left out: litellm-proxy==${LITELLM_VERSION}${unpublished.map((r) => `, ${r}`).join('')}`,
    ];
  });
}

export const portkeyDir = path.join(PEERS_DIR, `portkey-${PORTKEY_VERSION}`);
export const portkeyServer = path.join(
  portkeyDir,
  'node_modules',
  '@portkey-ai',
  'gateway',
  'build',
  'start-server.js',
);

/** Portkey's gateway from npm, in a folder of its own (its own package.json, so npm never touches the repo's). */
export function installPortkey() {
  return installOnce(`Portkey gateway ${PORTKEY_VERSION}`, portkeyDir, async (logFile) => {
    fs.writeFileSync(
      path.join(portkeyDir, 'package.json'),
      `${JSON.stringify({ name: 'bench-portkey', private: true }, null, 2)}\n`,
    );
    // Install scripts stay off, as for the repo's own dependencies; the gateway's build needs none.
    await run(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--ignore-scripts',
        '--save-exact',
        `@portkey-ai/gateway@${PORTKEY_VERSION}`,
      ],
      { cwd: portkeyDir, logFile },
    );
    if (!fs.existsSync(portkeyServer)) throw new Error(`${portkeyServer} is missing after npm install`);
    return [
      `npm @portkey-ai/gateway@${PORTKEY_VERSION} (install scripts off), run with node ${process.version}`,
    ];
  });
}
