import { randomFillSync } from 'node:crypto';

const POOL_IDS = 256;
let pool = Buffer.alloc(0);
let offset = 0;

/**
 * A UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then random bits. Ledger rows get one each, so the
 * primary key grows in time order (inserts append to the index instead of splitting pages all over it). Random
 * bytes are drawn 4 KiB at a time: one id costs a slice and a hex encoding.
 */
export function recordId(now: number = Date.now()): string {
  if (offset + 16 > pool.length) {
    pool = randomFillSync(Buffer.alloc(16 * POOL_IDS));
    offset = 0;
  }
  // Written in the pool itself: a Buffer view per id (subarray) was a quarter of the id's cost.
  const at = offset;
  offset += 16;
  pool.writeUIntBE(now, at, 6);
  pool[at + 6] = (pool[at + 6]! & 0x0f) | 0x70;
  pool[at + 8] = (pool[at + 8]! & 0x3f) | 0x80;
  const hex = pool.toString('hex', at, at + 16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
