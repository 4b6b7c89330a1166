const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;
const WHOLE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;

/** Parses `30s`, `5m`, `1h30m`, `250ms`, `7d` (or `0`) into milliseconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const value = text.trim();
  if (value === '0') return 0;
  if (!WHOLE.test(value)) return undefined;
  let total = 0;
  for (const [, amount, unit] of value.matchAll(PART)) total += Number(amount) * UNIT_MS[unit as string]!;
  return Math.round(total);
}

/** Formats milliseconds back into the largest exact unit form (`90000` -> `90s`, `300000` -> `5m`). */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = UNIT_MS[unit]!;
    if (ms !== 0 && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1_000, kib: 1_024, mb: 1_000_000, mib: 1_048_576 };

/** Parses `100kb`, `1mib`, `512` (bytes) into bytes; undefined when malformed. */
export function parseSize(text: string): number | undefined {
  const match = /^(\d+)\s*(b|kb|kib|mb|mib)?$/i.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * SIZE_UNITS[(match[2] ?? 'b').toLowerCase()]!;
}
