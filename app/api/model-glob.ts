/**
 * Model-name globs, as allowed-models lists (limits) and routes (routing) write them: `*` is any run of characters
 * and `?` exactly one; everything else is literal. Model names are not paths (`meta/llama:8b`), so unlike path globs
 * `*` and `?` cross slashes, and `[`, `{`, `!`, `(` and `\` are plain characters; that is why no path-glob library
 * (picomatch, minimatch) is used here.
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
