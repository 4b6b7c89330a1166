/** Edit distance (insert, delete, substitute), in O(min(a,b)) memory. */
export function levenshtein(a: string, b: string): number {
  if (a.length < b.length) [a, b] = [b, a];
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * Up to `max` names close to `wanted`, best first: case-insensitive edit distance within a third of the longer
 * name (at least 2), or one name containing the other. Never used to route a request, only to help its author.
 */
export function nearMisses(wanted: string, names: Iterable<string>, max = 3): string[] {
  const needle = wanted.toLowerCase().slice(0, 512);
  const scored: { name: string; score: number }[] = [];
  for (const name of names) {
    const candidate = name.toLowerCase();
    const distance = levenshtein(needle, candidate);
    const budget = Math.max(2, Math.floor(Math.max(needle.length, candidate.length) / 3));
    const contains = needle.length >= 3 && (candidate.includes(needle) || needle.includes(candidate));
    if (distance <= budget || contains)
      scored.push({ name, score: contains ? Math.min(distance, budget) : distance });
  }
  scored.sort((x, y) => x.score - y.score || (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  return scored.slice(0, max).map((s) => s.name);
}
