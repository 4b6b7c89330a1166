import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { packageRoot } from '../../../core/package-root';
import type { CountJob, CountResult } from './tokenizer-worker';

/** Counts tokens of texts (o200k_base, the encoding of OpenAI's current models). */
export interface TokenCounter {
  count(texts: readonly string[]): Promise<number[]>;
  close(): Promise<void>;
}

/**
 * Where the tokenizer thread's script is: beside the bundle in a build (dist/bin/modelgate-tokenizer.js, which holds
 * the tokenizer and its ranks, so modelgate-app's own bundle does not), beside this file when running from tsc's
 * output, and tsc's output when running from source (tests).
 */
export function tokenizerScript(): string {
  const candidates = [
    path.join(__dirname, 'modelgate-tokenizer.js'),
    path.join(__dirname, 'tokenizer-worker.js'),
    path.join(packageRoot(), 'dist', 'app', 'api', 'usage', 'tokenizer-worker.js'),
  ];
  const found = candidates.find((file) => fs.existsSync(file));
  if (!found)
    throw new Error(
      `the tokenizer script is missing (looked for ${candidates.join(', ')}); run npm run build`,
    );
  return found;
}

interface Pending {
  resolve(counts: number[]): void;
  reject(error: Error): void;
}

/**
 * A TokenCounter on a worker thread started at the first count, never at start-up (the app's start is
 * benchmarked, and most upstreams report usage, so most processes never start it). The thread does not keep the
 * process alive; a thread that fails fails the counts waiting on it, and the next count starts a new one.
 */
export class WorkerTokenCounter implements TokenCounter {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;

  constructor(private readonly script: () => string = tokenizerScript) {}

  get started(): boolean {
    return this.worker !== undefined;
  }

  count(texts: readonly string[]): Promise<number[]> {
    if (texts.length === 0) return Promise.resolve([]);
    let worker: Worker;
    try {
      worker = this.worker ?? this.start();
    } catch (error) {
      return Promise.reject(error as Error);
    }
    const id = (this.nextId += 1);
    return new Promise<number[]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // Only while counts are waiting does the thread hold the process open.
      if (this.pending.size === 1) worker.ref();
      const job: CountJob = { id, texts: [...texts] };
      worker.postMessage(job);
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
  }

  private start(): Worker {
    const worker = new Worker(this.script());
    worker.unref();
    worker.on('message', (result: CountResult) => {
      const waiting = this.pending.get(result.id);
      this.pending.delete(result.id);
      if (this.pending.size === 0) worker.unref();
      waiting?.resolve(result.counts);
    });
    const fail = (error: Error) => {
      if (this.worker === worker) this.worker = undefined;
      for (const waiting of this.pending.values()) waiting.reject(error);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the tokenizer thread exited (${code})`)));
    this.worker = worker;
    return worker;
  }
}
