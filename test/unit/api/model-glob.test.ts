import { globToRegExp } from '../../../app/api/model-glob';

describe('model-name globs (allowed models, routes)', () => {
  it('globs treat * as any run (slashes too), ? as one character, the rest literally', () => {
    expect(globToRegExp('meta/*').test('meta/llama/3')).toBe(true);
    expect(globToRegExp('gpt-4?').test('gpt-4o')).toBe(true);
    expect(globToRegExp('gpt-4?').test('gpt-4')).toBe(false);
    expect(globToRegExp('a.b+(c)').test('a.b+(c)')).toBe(true);
    expect(globToRegExp('a.b').test('axb')).toBe(false);
    // Not path globs: `?` crosses a slash; brackets, braces, `!` and backslashes are plain characters.
    expect(globToRegExp('a?b').test('a/b')).toBe(true);
    expect(globToRegExp('gpt-[45]').test('gpt-4')).toBe(false);
    expect(globToRegExp('gpt-[45]').test('gpt-[45]')).toBe(true);
    expect(globToRegExp('{a,b}').test('a')).toBe(false);
    expect(globToRegExp('!x*').test('!xy')).toBe(true);
    expect(globToRegExp('a\\*').test('a\\b')).toBe(true);
  });
});
