import { parentPort } from 'node:worker_threads';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';

/**
 * The tokenizer's thread: loading o200k_base's 200,000 ranks takes about a second of CPU and a long text takes
 * milliseconds to count, so neither runs on the thread that serves requests. Special tokens in the text (a user
 * may well type "<|endoftext|>") are counted as the plain text they are.
 */
export interface CountJob {
  id: number;
  texts: string[];
}

export interface CountResult {
  id: number;
  counts: number[];
}

const plain = { disallowedSpecial: new Set<string>() };

parentPort?.on('message', (job: CountJob) => {
  const result: CountResult = { id: job.id, counts: job.texts.map((text) => countTokens(text, plain)) };
  parentPort!.postMessage(result);
});
