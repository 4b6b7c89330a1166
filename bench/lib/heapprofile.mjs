// @ts-check
// Summarises a V8 sampling heap profile taken with the objects garbage collection took kept in it
// (bench/lib/heap-sampler.cjs): bytes allocated per request by function, by module and, for the repo's own code,
// inclusive of what it calls; frames of a bundle are mapped to their source file and package like a CPU profile's
// (bench/lib/cpuprofile.mjs).
import { locate } from './cpuprofile.mjs';

/**
 * @typedef {{ callFrame: import('./cpuprofile.mjs').CallFrame, selfSize: number, children?: HeapNode[] }} HeapNode
 * @typedef {{ head: HeapNode }} HeapProfile
 * @typedef {{ name: string, bytes: number }} ByteRow
 */

/** @param {Map<string, number>} map @returns {ByteRow[]} */
const rows = (map) => [...map].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes);

/** @param {HeapProfile} profile */
export function summariseAllocations(profile) {
  /** @type {Map<string, number>} */
  const byFunction = new Map();
  /** @type {Map<string, number>} */
  const byModule = new Map();
  /** @type {Map<string, number>} */
  const ownInclusive = new Map();
  let total = 0;
  /** @param {HeapNode} node @param {string[]} own the repo's functions on the stack, each once */
  const walk = (node, own) => {
    const where = locate(node.callFrame);
    const fn = `${node.callFrame.functionName || '(anonymous)'}${where.file ? ` (${where.file}:${where.line})` : ''}`;
    const size = node.selfSize ?? 0;
    total += size;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + size);
    byModule.set(where.module, (byModule.get(where.module) ?? 0) + size);
    const isOwn = /^(app|core|init)\//.test(where.file);
    const stack = isOwn && !own.includes(fn) ? [...own, fn] : own;
    for (const name of stack) ownInclusive.set(name, (ownInclusive.get(name) ?? 0) + size);
    for (const child of node.children ?? []) walk(child, stack);
  };
  walk(profile.head, []);
  return { total, byFunction: rows(byFunction), byModule: rows(byModule), ownInclusive: rows(ownInclusive) };
}

/**
 * The summary as Markdown tables, in bytes per request.
 * @param {HeapProfile} profile @param {{ requests: number, title?: string, top?: number }} options
 */
export function formatAllocations(profile, options) {
  const top = options.top ?? 30;
  const summary = summariseAllocations(profile);
  const perRequest = (/** @type {number} */ bytes) => Math.round(bytes / options.requests);
  const table = (/** @type {string} */ title, /** @type {ByteRow[]} */ list) =>
    [
      `### ${title}`,
      '',
      '| % | bytes per request | name |',
      '| ---: | ---: | --- |',
      ...list
        .slice(0, top)
        .map(
          (r) =>
            `| ${Math.round((r.bytes / summary.total) * 1000) / 10} | ${perRequest(r.bytes)} | ${r.name.replaceAll('|', '\\|')} |`,
        ),
      '',
    ].join('\n');
  return [
    options.title ? `## ${options.title}\n` : '',
    `${Math.round(summary.total / 1e6)} MB allocated (sampled) over ${options.requests} requests: ${perRequest(summary.total)} bytes per request.`,
    '',
    table('Allocated by package or own folder', summary.byModule),
    table('Allocated by function (self)', summary.byFunction),
    table("Allocated by the repo's own functions, with what they call", summary.ownInclusive),
  ].join('\n');
}
