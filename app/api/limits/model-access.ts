import { globToRegExp } from '../model-glob';

/**
 * Compiles an allowed-models list: exact public names are looked up in a set, globs tried in order. Null allows
 * every model; an empty list none.
 */
export function modelMatcher(allowed: readonly string[] | null): (model: string) => boolean {
  if (allowed === null) return () => true;
  const names = new Set<string>();
  const globs: RegExp[] = [];
  for (const entry of allowed) {
    if (/[*?]/.test(entry)) globs.push(globToRegExp(entry));
    else names.add(entry);
  }
  return (model) => names.has(model) || globs.some((glob) => glob.test(model));
}
