// @ts-check
// Summarises a V8 .cpuprofile (node --cpu-prof): self and inclusive time per function and per module, with frames of
// an esbuild bundle mapped back to their source file and package through the bundle's source map
// (dist/bin/<name>.bundle.js.map, written by the build). Inclusive time counts a sample once per function (or
// module) on its stack, so recursion is not counted twice. `node bench/profile.mjs summary <file>` prints it.
import fs from 'node:fs';
import Module, { SourceMap } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * @typedef {{ functionName: string, url: string, lineNumber: number, columnNumber: number }} CallFrame
 * @typedef {{ id: number, callFrame: CallFrame, hitCount?: number, children?: number[] }} ProfileNode
 * @typedef {{ nodes: ProfileNode[], samples: number[], timeDeltas: number[], startTime: number, endTime: number }} CpuProfile
 * @typedef {{ name: string, ms: number, share: number }} Row
 * @typedef {{ fn: string, module: string, file: string }} Key
 */

/** launch.js compiles a bundle inside the CommonJS wrapper: columns of its first line are shifted by it. */
const WRAPPER = /** @type {string[]} */ (/** @type {any} */ (Module).wrapper)[0]?.length ?? 0;

/** @type {Map<string, SourceMap | null>} */
const maps = new Map();

/** Node.js' dispatch plumbing: time spent only there is charged to the more specific code it runs. */
const GENERIC_NODE_AREAS = new Set([
  'node:process',
  'node:events',
  'node:streams',
  'node:timers',
  'node:async_hooks',
  'node:stream_base_commons',
  'node:net',
]);

/** @param {string} file @returns {SourceMap | null} */
function sourceMapOf(file) {
  if (!maps.has(file)) {
    const mapFile = `${file}.map`;
    maps.set(
      file,
      fs.existsSync(mapFile) ? new SourceMap(JSON.parse(fs.readFileSync(mapFile, 'utf8'))) : null,
    );
  }
  return maps.get(file) ?? null;
}

/** `node_modules/@scope/name/...` -> `@scope/name`; an own file -> its folder (`app/api/keys`). */
function moduleOfPath(/** @type {string} */ file) {
  const parts = file.split(/[\\/]/);
  const at = parts.lastIndexOf('node_modules');
  if (at >= 0) {
    const name = parts[at + 1] ?? '?';
    return name.startsWith('@') ? `${name}/${parts[at + 2]}` : name;
  }
  const own = parts.findIndex((p) => ['app', 'core', 'init', 'bench', 'scripts'].includes(p));
  return own >= 0 ? parts.slice(own, -1).join('/') || parts[own] || file : file;
}

/**
 * Where a frame's code comes from: `module` (a package, an own folder, `node:<area>`, or a V8 category such as
 * `(garbage collector)`), and `file:line` for functions.
 * @param {CallFrame} frame
 */
export function locate(frame) {
  const { url, functionName } = frame;
  if (!url) {
    if (functionName.startsWith('(')) return { module: functionName, file: '', line: 0 };
    // Builtins and natives without a script: JSON.parse, RegExp, Array.prototype.sort...
    return { module: '(v8 builtins)', file: '', line: 0 };
  }
  if (url.startsWith('node:')) {
    const [, area = url] = /^node:(?:internal\/)?(?:deps\/)?([^/]+)/.exec(url) ?? [];
    return {
      module: `node:${area.replace(/\.js$/, '').replace(/^_/, '')}`,
      file: url,
      line: frame.lineNumber + 1,
    };
  }
  const file = url.startsWith('file://') ? fileURLToPath(url) : url;
  if (file.endsWith('.bundle.js')) {
    const map = sourceMapOf(file);
    const column = frame.lineNumber === 0 ? Math.max(0, frame.columnNumber - WRAPPER) : frame.columnNumber;
    const entry = /** @type {any} */ (map?.findEntry(frame.lineNumber, column));
    if (entry?.originalSource) {
      const source = String(entry.originalSource).replace(/^file:\/\//, '');
      return { module: moduleOfPath(source), file: cleanPath(source), line: entry.originalLine + 1 };
    }
    return { module: path.basename(file), file: path.basename(file), line: frame.lineNumber + 1 };
  }
  return { module: moduleOfPath(file), file: cleanPath(file), line: frame.lineNumber + 1 };
}

/** A path from `node_modules/` or the repo's own folders on, without the machine's prefix. */
function cleanPath(/** @type {string} */ file) {
  const at = file.lastIndexOf('node_modules/');
  if (at >= 0) return file.slice(at + 'node_modules/'.length);
  const own = /(?:^|\/)((?:app|core|init|bench|scripts)\/.*)$/.exec(file);
  return own?.[1] ?? file;
}

/**
 * @param {CpuProfile} profile @param {{ untilMicros?: number }} [options]
 * @returns {{ totalMs: number, samples: number, selfByFunction: Row[], inclusiveByFunction: Row[],
 *   selfByModule: Row[], inclusiveByModule: Row[], chargedByModule: Row[], chargedByFunction: Row[],
 *   chargedByCategory: Row[] }}
 * `charged*`: self time with Node.js' own code and V8 builtins charged to the nearest package or own function that
 * called them (a socket write to the code that wrote, JSON.parse to its caller): shares that add up to 100%.
 */
export function summarise(profile, options = {}) {
  /** @type {Map<number, ProfileNode>} */
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  /** @type {Map<number, number>} */
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  /** @type {Map<number, Key>} */
  const keys = new Map();
  for (const node of profile.nodes) {
    const where = locate(node.callFrame);
    const name = node.callFrame.functionName || '(anonymous)';
    keys.set(node.id, {
      fn: where.file ? `${name} (${where.file}:${where.line})` : name,
      module: where.module,
      file: where.file,
    });
  }

  // Each sample's weight is the time until the next one (V8's timeDeltas are the gaps before each sample);
  // samples after `untilMicros` (on the profile's clock) weigh nothing.
  let at = profile.startTime;
  const until = options.untilMicros ?? Infinity;
  const weights = profile.samples.map((_, i) => {
    at += profile.timeDeltas[i] ?? 0;
    return at <= until ? (profile.timeDeltas[i + 1] ?? 0) / 1000 : 0;
  });
  const totalMs = weights.reduce((a, b) => a + b, 0);

  /** @type {Map<string, number>} */ const selfFn = new Map();
  /** @type {Map<string, number>} */ const selfModule = new Map();
  /** @type {Map<string, number>} */ const incFn = new Map();
  /** @type {Map<string, number>} */ const incModule = new Map();
  /** Distinct function and module keys on the stack of each node, computed once per node. */
  /** @type {Map<number, { fns: Set<string>, modules: Set<string> }>} */
  const stacks = new Map();
  /** @param {number} id @returns {{ fns: Set<string>, modules: Set<string> }} */
  const stackOf = (id) => {
    const known = stacks.get(id);
    if (known) return known;
    /** @type {number[]} */
    const chain = [];
    let at = /** @type {number | undefined} */ (id);
    while (at !== undefined && !stacks.has(at)) {
      chain.push(at);
      at = parent.get(at);
    }
    let base = at !== undefined ? stacks.get(at) : undefined;
    for (const node of chain.reverse()) {
      const key = /** @type {Key} */ (keys.get(node));
      const isRoot = nodes.get(node)?.callFrame.functionName === '(root)';
      const fns = new Set(base?.fns);
      const modules = new Set(base?.modules);
      if (!isRoot) {
        fns.add(key.fn);
        modules.add(key.module);
      }
      base = { fns, modules };
      stacks.set(node, base);
    }
    return /** @type {{ fns: Set<string>, modules: Set<string> }} */ (stacks.get(id));
  };

  /**
   * Who a sample's time is charged to: the nearest package or own frame at or above it; on a stack of Node.js' own
   * code only (an upstream request flushed from process.nextTick, an HTTP response parsed from a socket read), the
   * outermost frame of a specific area (node:http_client rather than the event and stream plumbing around it).
   * @type {Map<number, Key>}
   */
  const nearest = new Map();
  /** @param {number} id @returns {Key} */
  const chargedTo = (id) => {
    const known = nearest.get(id);
    if (known) return known;
    const leaf = /** @type {Key} */ (keys.get(id));
    let result = leaf;
    /** @type {Key | undefined} */
    let outermostSpecific;
    for (let at = /** @type {number | undefined} */ (id); at !== undefined; at = parent.get(at)) {
      if (nodes.get(at)?.callFrame.functionName === '(root)') break;
      const key = /** @type {Key} */ (keys.get(at));
      const foreign = key.module.startsWith('node:') || key.module === '(v8 builtins)';
      if (!foreign) {
        outermostSpecific = undefined;
        result = key;
        break;
      }
      if (key.module.startsWith('node:') && !GENERIC_NODE_AREAS.has(key.module)) outermostSpecific = key;
    }
    if (outermostSpecific) result = outermostSpecific;
    nearest.set(id, result);
    return result;
  };
  /** @type {Map<string, number>} */ const chargedCategory = new Map();
  /** @type {Map<string, number>} */ const chargedFn = new Map();
  /** @type {Map<string, number>} */ const chargedModule = new Map();

  const add = (/** @type {Map<string, number>} */ map, /** @type {string} */ key, /** @type {number} */ ms) =>
    map.set(key, (map.get(key) ?? 0) + ms);
  profile.samples.forEach((id, i) => {
    const ms = weights[i] ?? 0;
    const key = keys.get(id);
    if (!key) return;
    add(selfFn, key.fn, ms);
    add(selfModule, key.module, ms);
    const charged = chargedTo(id);
    add(chargedFn, charged.fn, ms);
    add(chargedModule, charged.module, ms);
    add(chargedCategory, categoryOf(charged), ms);
    const stack = stackOf(id);
    for (const fn of stack.fns) add(incFn, fn, ms);
    for (const module of stack.modules) add(incModule, module, ms);
  });

  const rows = (/** @type {Map<string, number>} */ map) =>
    [...map]
      .map(([name, ms]) => ({
        name,
        ms: Math.round(ms * 10) / 10,
        share: Math.round((ms / totalMs) * 1000) / 10,
      }))
      .sort((a, b) => b.ms - a.ms);
  return {
    totalMs: Math.round(totalMs),
    samples: weights.filter((w) => w > 0).length,
    selfByFunction: rows(selfFn),
    inclusiveByFunction: rows(incFn),
    selfByModule: rows(selfModule),
    inclusiveByModule: rows(incModule),
    chargedByModule: rows(chargedModule),
    chargedByFunction: rows(chargedFn),
    chargedByCategory: rows(chargedCategory),
  };
}

/**
 * What a piece of modelgate's hot path is for, by the package or own file its time is charged to: the parts the
 * optimisation of the proxy path weighs against each other.
 * @type {[string, (key: Key) => boolean][]}
 */
const CATEGORIES = [
  [
    'request log line (pino, core/logger.ts)',
    (k) =>
      /^(pino|sonic-boom|@pinojs\/redact|safe-stable-stringify|fast-redact|pino-std-serializers)$/.test(
        k.module,
      ) || k.file === 'core/logger.ts',
  ],
  ['metrics (prom-client)', (k) => k.module === 'prom-client'],
  [
    'body parsing (express.json: body-parser, raw-body, JSON.parse)',
    (k) =>
      /^(body-parser|raw-body|iconv-lite|type-is|content-type|media-typer|bytes|mime-types|mime-db|http-errors|depd|unpipe|statuses)$/.test(
        k.module,
      ),
  ],
  ['validation (zod)', (k) => k.module === 'zod' || k.file === 'app/api/validation.ts'],
  [
    'key authentication (app/api/keys, principal)',
    (k) => k.module === 'app/api/keys' || k.file === 'app/api/principal.ts',
  ],
  [
    'express routing and middleware dispatch',
    (k) =>
      /^(express|router|finalhandler|parseurl|on-finished|path-to-regexp|encodeurl|ee-first|merge-descriptors|setprototypeof|accepts|negotiator|fresh|vary|send|etag|proxy-addr|forwarded|ipaddr\.js|qs|cookie|cookie-signature|range-parser|content-disposition|escape-html|utils-merge|methods)$/.test(
        k.module,
      ),
  ],
  [
    'request id, route template, access-log and metrics middleware (app/http)',
    (k) => k.module === 'app/http',
  ],
  [
    'chat completion route, model lookup, upstream proxy (own code, with the writes it makes)',
    (k) => /^app\/api\/(chat-completions|models)$/.test(k.module) || k.file === 'app/api/request-id.ts',
  ],
  [
    'database (knex, pg)',
    (k) =>
      /^(knex|pg|pg-protocol|pg-pool|pg-types|pg-connection-string|tarn|postgres-[a-z]+|lodash|getopts|rechoir|interpret|colorette|escalade|tildify)$/.test(
        k.module,
      ),
  ],
  [
    'Node.js HTTP client: upstream request write, response parse (node:http_client, agent)',
    (k) => /^node:http_(client|agent)$/.test(k.module),
  ],
  [
    'Node.js HTTP server: request parse, response write (node:http_server, outgoing, incoming, common)',
    (k) => /^node:http_(server|outgoing|incoming|common)$|^node:http$/.test(k.module),
  ],
  ['garbage collector', (k) => k.module === '(garbage collector)'],
];

/** @param {Key} key */
function categoryOf(key) {
  if (key.module === '(idle)' || key.module === '(root)') return key.module;
  for (const [name, test] of CATEGORIES) if (test(key)) return name;
  if (key.module.startsWith('node:')) return 'other Node.js code (streams, events, sockets, timers)';
  return `other: ${key.module}`;
}

/** Time with the process idle (waiting for I/O) is not work: shares of busy time leave it out. */
export function busyShares(/** @type {ReturnType<typeof summarise>} */ summary) {
  const idle = summary.selfByModule.find((r) => r.name === '(idle)')?.ms ?? 0;
  const busy = summary.totalMs - idle;
  const rescale = (/** @type {Row[]} */ rows) =>
    rows
      .filter((r) => r.name !== '(idle)' && r.name !== '(root)')
      .map((r) => ({ ...r, share: Math.round((r.ms / busy) * 1000) / 10 }));
  return {
    busyMs: Math.round(busy),
    idleMs: Math.round(idle),
    selfByFunction: rescale(summary.selfByFunction),
    inclusiveByFunction: rescale(summary.inclusiveByFunction),
    selfByModule: rescale(summary.selfByModule),
    inclusiveByModule: rescale(summary.inclusiveByModule),
    chargedByModule: rescale(summary.chargedByModule),
    chargedByFunction: rescale(summary.chargedByFunction),
    chargedByCategory: rescale(summary.chargedByCategory),
  };
}

/**
 * The summary as Markdown tables, shares of busy time (idle left out).
 * @param {CpuProfile} profile @param {{ top?: number, title?: string, untilMicros?: number }} [options]
 */
export function formatSummary(profile, options = {}) {
  const top = options.top ?? 25;
  const summary = summarise(profile, options);
  const busy = busyShares(summary);
  const table = (/** @type {string} */ title, /** @type {Row[]} */ rows) =>
    [
      `### ${title}`,
      '',
      '| % of busy | ms | name |',
      '| ---: | ---: | --- |',
      ...rows.slice(0, top).map((r) => `| ${r.share} | ${r.ms} | ${r.name.replaceAll('|', '\\|')} |`),
      '',
    ].join('\n');
  return [
    options.title ? `## ${options.title}\n` : '',
    `${summary.samples} samples over ${summary.totalMs} ms: ${busy.busyMs} ms busy, ${busy.idleMs} ms idle.`,
    '',
    table('Time by what it is for (charged as below)', busy.chargedByCategory),
    table(
      "Time by package or own folder, Node.js' own code and V8 builtins charged to their caller",
      busy.chargedByModule,
    ),
    table('Time by function, charged the same way', busy.chargedByFunction),
    table('Self time by module', busy.selfByModule),
    table('Inclusive time by module (a sample counts once per module on its stack)', busy.inclusiveByModule),
    table('Self time by function', busy.selfByFunction),
    table('Inclusive time by function', busy.inclusiveByFunction),
  ].join('\n');
}

/** @param {string} file @returns {CpuProfile} */
export function readProfile(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}
