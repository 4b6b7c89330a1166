// @ts-check
// `npm run bench:rewrite`: what giving every answer the client's model name costs. A micro-benchmark of the
// production rewriters (dist/app/api/routing), in one process, no network:
//  1. SSE: chat.completion.chunk events (the size vLLM and OpenAI send) through SseModelRewriter, per chunk,
//     beside a Transform that passes bytes on (the floor) and beside JSON.parse + JSON.stringify per event (what
//     a straightforward rewrite would cost);
//  2. JSON: a chat completion and a 1.9 MB embeddings answer through JsonModelRewriter, per answer.
// Interleaved rounds; the median of the rounds is reported. Results: bench/results/rewrite.json and rewrite.md.
// BENCH_QUICK=1 runs 3 short rounds instead of 9.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { PassThrough, Transform } from 'node:stream';
import { median, quick, repoRoot as root, resultsDir } from './lib/common.mjs';

const require = createRequire(import.meta.url);
const rounds = quick ? 3 : 9;
const chunksPerRound = quick ? 20_000 : 100_000;

const compiled = path.join(root, 'dist', 'app', 'api', 'routing', 'sse-rewriter.js');
if (!fs.existsSync(compiled)) {
  console.error('dist/ is missing the routing code; run `npm run build` first (npm run bench:rewrite does).');
  process.exit(2);
}
const { SseModelRewriter } = require(compiled);
const { JsonModelRewriter } = require(path.join(root, 'dist', 'app', 'api', 'routing', 'json-rewriter.js'));

/** @param {number} n */
const sseChunk = (n) =>
  `data: ${JSON.stringify({
    id: 'chatcmpl-9f2c1d7e3b',
    object: 'chat.completion.chunk',
    created: 1_745_330_395,
    model: '0x' + 'a'.repeat(64),
    system_fingerprint: 'fp_44709d6fcb',
    choices: [{ index: 0, delta: { content: ` token${n % 97}` }, logprobs: null, finish_reason: null }],
  })}\n\n`;

/** Upstream reads arrive a few events at a time; 4 events per read, as a busy vLLM sends them. */
const EVENTS_PER_READ = 4;
const reads = Array.from({ length: 64 }, (_, i) =>
  Buffer.from(Array.from({ length: EVENTS_PER_READ }, (_, j) => sseChunk(i * EVENTS_PER_READ + j)).join('')),
);

/** What a rewrite by parsing would do: split events, JSON.parse, set model, JSON.stringify. */
class ParseRewriter extends Transform {
  pending = '';
  /** @param {string} model */
  constructor(model) {
    super();
    this.model = model;
  }
  /**
   * @override
   * @param {Buffer} chunk @param {BufferEncoding} _e @param {import('node:stream').TransformCallback} done
   */
  _transform(chunk, _e, done) {
    const text = this.pending + chunk.toString('utf8');
    const events = text.split('\n\n');
    this.pending = events.pop() ?? '';
    let out = '';
    for (const event of events) {
      const data = event.slice(6);
      if (data === '[DONE]') out += `${event}\n\n`;
      else {
        const value = JSON.parse(data);
        value.model = this.model;
        out += `data: ${JSON.stringify(value)}\n\n`;
      }
    }
    done(null, Buffer.from(out));
  }
}

/**
 * Pushes `count` events' worth of reads through a fresh transform, draining its output; returns ns per event.
 * @param {() => import('node:stream').Transform} make @param {number} count
 */
async function timeStream(make, count) {
  const stream = make();
  stream.on('data', () => undefined);
  const ended = new Promise((resolve) => stream.once('end', resolve));
  const started = process.hrtime.bigint();
  for (let i = 0; i < count / EVENTS_PER_READ; i++) {
    if (!stream.write(reads[i % reads.length])) await new Promise((resolve) => stream.once('drain', resolve));
  }
  stream.end();
  await ended;
  return Number(process.hrtime.bigint() - started) / count;
}

/** @param {() => import('node:stream').Transform} make @param {Buffer} body @param {number} count */
async function timeBodies(make, body, count) {
  const started = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    const stream = make();
    stream.on('data', () => undefined);
    const ended = new Promise((resolve) => stream.once('end', resolve));
    // A real body arrives in socket-sized reads.
    for (let at = 0; at < body.length; at += 65_536) stream.write(body.subarray(at, at + 65_536));
    stream.end();
    await ended;
  }
  return Number(process.hrtime.bigint() - started) / count;
}

const chatBody = Buffer.from(
  JSON.stringify({
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1_745_330_395,
    model: '0x' + 'a'.repeat(64),
    choices: [
      { index: 0, message: { role: 'assistant', content: 'word '.repeat(200) }, finish_reason: 'stop' },
    ],
    usage: { prompt_tokens: 42, completion_tokens: 200, total_tokens: 242 },
  }),
);
const embeddingsBody = Buffer.from(
  JSON.stringify({
    object: 'list',
    data: Array.from({ length: 64 }, (_, index) => ({
      object: 'embedding',
      index,
      embedding: Array.from({ length: 1536 }, (_, i) => Math.sin(index * 1536 + i) / 3),
    })),
    model: '0x' + 'e'.repeat(64),
    usage: { prompt_tokens: 640, total_tokens: 640 },
  }),
);

/**
 * SseModelRewriter in a Transform, the floor's framing: what a read costs beyond passing it on is the edit.
 * @param {string} model
 */
function sseTransform(model) {
  const rewriter = new SseModelRewriter({ model });
  return new Transform({
    transform(chunk, _encoding, done) {
      rewriter.write(chunk);
      done(null, rewriter.take());
    },
    flush(done) {
      rewriter.end();
      done(null, rewriter.take());
    },
  });
}

const cases = {
  'sse: pass-through floor': () => timeStream(() => new PassThrough(), chunksPerRound),
  'sse: SseModelRewriter': () => timeStream(() => sseTransform('llama-3.3-70b'), chunksPerRound),
  'sse: JSON.parse + stringify': () => timeStream(() => new ParseRewriter('llama-3.3-70b'), chunksPerRound),
  'json: chat completion (1.2 kB), pass-through': () =>
    timeBodies(() => new PassThrough(), chatBody, chunksPerRound / 10),
  'json: chat completion (1.2 kB), JsonModelRewriter': () =>
    timeBodies(() => new JsonModelRewriter('llama-3.3-70b'), chatBody, chunksPerRound / 10),
  'json: embeddings (1.9 MB), pass-through': () =>
    timeBodies(() => new PassThrough(), embeddingsBody, quick ? 10 : 30),
  'json: embeddings (1.9 MB), JsonModelRewriter': () =>
    timeBodies(() => new JsonModelRewriter('text-embedding'), embeddingsBody, quick ? 10 : 30),
};

/** @type {Record<string, number[]>} */
const samples = Object.fromEntries(Object.keys(cases).map((name) => [name, []]));
// One warm-up round compiles every path before anything is measured.
for (const run of Object.values(cases)) await run();
for (let round = 0; round < rounds; round++) {
  for (const [name, run] of Object.entries(cases)) samples[name]?.push(await run());
  process.stderr.write(`[bench:rewrite] round ${round + 1}/${rounds}\n`);
}

const results = Object.entries(samples).map(([name, values]) => ({
  name,
  nsMedian: Math.round(median(values)),
  nsMin: Math.round(Math.min(...values)),
  nsMax: Math.round(Math.max(...values)),
}));
const ns = (/** @type {string} */ name) => results.find((r) => r.name === name)?.nsMedian ?? NaN;
const sseCost = ns('sse: SseModelRewriter') - ns('sse: pass-through floor');
const parseCost = ns('sse: JSON.parse + stringify') - ns('sse: pass-through floor');
const report = {
  node: process.version,
  quick,
  cpus: os.cpus().length,
  loadAverageAtEnd: os.loadavg().map((l) => Math.round(l * 100) / 100),
  rounds,
  chunkBytes: Buffer.byteLength(sseChunk(1)),
  eventsPerRead: EVENTS_PER_READ,
  results,
  perChunkNs: { rewriter: sseCost, parseAndStringify: parseCost },
  embeddingsMsPerAnswer:
    (ns('json: embeddings (1.9 MB), JsonModelRewriter') - ns('json: embeddings (1.9 MB), pass-through')) /
    1e6,
};

const unit = (/** @type {string} */ name) => (name.startsWith('sse') ? 'ns per event' : 'ns per answer');
const md = [
  '# Model-name rewrite cost',
  '',
  `Node ${report.node}, ${rounds} interleaved rounds, medians (min - max). SSE events of ${report.chunkBytes} bytes,`,
  `${EVENTS_PER_READ} per upstream read.`,
  '',
  '| case | median | range | unit |',
  '| --- | ---: | ---: | --- |',
  ...results.map((r) => `| ${r.name} | ${r.nsMedian} | ${r.nsMin} - ${r.nsMax} | ${unit(r.name)} |`),
  '',
  `Rewriting a streamed chunk's \`model\` costs **${sseCost} ns per chunk** over passing it on`,
  `(JSON.parse + JSON.stringify would cost ${parseCost} ns); a 1.9 MB embeddings answer costs`,
  `${report.embeddingsMsPerAnswer.toFixed(2)} ms more than passing it on.`,
  '',
].join('\n');

fs.mkdirSync(resultsDir, { recursive: true });
fs.writeFileSync(path.join(resultsDir, 'rewrite.json'), `${JSON.stringify(report, null, 2)}\n`);
fs.writeFileSync(path.join(resultsDir, 'rewrite.md'), md);
process.stdout.write(md);
