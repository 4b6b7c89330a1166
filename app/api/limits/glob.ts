/**
 * Model-name globs: `*` is any run of characters and `?` exactly one; everything else is literal. Model names are
 * not paths (`meta/llama:8b`), so `*` crosses slashes.
 */
export function globToRegExp(glob: string): RegExp {
  let source = '';
  for (const char of glob) {
    if (char === '*') source += '.*';
    else if (char === '?') source += '.';
    else source += char.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 's');
}
