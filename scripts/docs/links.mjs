#!/usr/bin/env node
// @ts-check
// Checks the relative links of the repository's markdown pages: every linked file exists, and every #anchor names a
// heading (slugged as GitHub does) or an explicit <a id>/<a name> of the linked page. External links are not
// fetched. `node scripts/docs/links.mjs` prints the broken ones; test/unit/docs-links.test.ts runs the same check.
import fs from 'node:fs';
import path from 'node:path';
import GithubSlugger from 'github-slugger';
import MarkdownIt from 'markdown-it';

/** The pages a reader of the repository lands on: the front door, the changelog, docs/ and the chart's README. */
/** @param {string} root */
export function documentationPages(root) {
  const docs = fs
    .readdirSync(path.join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => path.join('docs', name));
  return ['README.md', 'CHANGELOG.md', path.join('helm', 'modelgate', 'README.md'), ...docs].filter((page) =>
    fs.existsSync(path.join(root, page)),
  );
}

const markdown = new MarkdownIt({ html: true });
const EXPLICIT_ANCHOR = /<a\s+(?:id|name)="([^"]+)"/g;

/**
 * The anchors a page offers and the links it makes.
 * @param {string} text
 * @returns {{ anchors: Set<string>, links: { href: string, line: number }[] }}
 */
export function scanMarkdown(text) {
  const slugger = new GithubSlugger();
  const anchors = new Set([...text.matchAll(EXPLICIT_ANCHOR)].map((m) => /** @type {string} */ (m[1])));
  /** @type {{ href: string, line: number }[]} */
  const links = [];
  const tokens = markdown.parse(text, {});
  let line = 1; // table cells carry no line of their own: the nearest block before them does
  tokens.forEach((token, i) => {
    if (token.map) line = token.map[0] + 1;
    if (token.type === 'heading_open') {
      const inline = tokens[i + 1];
      const title = (inline?.children ?? [])
        .filter((child) => child.type === 'text' || child.type === 'code_inline')
        .map((child) => child.content)
        .join('');
      anchors.add(slugger.slug(title));
    }
    if (token.type !== 'inline') return;
    for (const child of token.children ?? []) {
      const href =
        child.type === 'link_open'
          ? child.attrGet('href')
          : child.type === 'image'
            ? child.attrGet('src')
            : null;
      if (href) links.push({ href: String(href), line });
    }
  });
  return { anchors, links };
}

/**
 * Every broken relative link of the given pages, as "page:line: problem".
 * @param {string[]} pages paths relative to root
 * @param {string} root the repository
 */
export function brokenLinks(pages, root) {
  /** @type {Map<string, ReturnType<typeof scanMarkdown>>} */
  const scanned = new Map();
  const scan = (/** @type {string} */ file) => {
    let result = scanned.get(file);
    if (!result) {
      result = scanMarkdown(fs.readFileSync(file, 'utf8'));
      scanned.set(file, result);
    }
    return result;
  };
  /** @type {string[]} */
  const problems = [];
  for (const page of pages) {
    const file = path.join(root, page);
    for (const { href, line } of scan(file).links) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(href)) continue; // https:, mailto: and the like: not checked here
      const [target = '', anchor] = href.split('#');
      const targetFile = target ? path.resolve(path.dirname(file), decodeURIComponent(target)) : file;
      const where = `${page}:${line}`;
      if (!targetFile.startsWith(root + path.sep) && targetFile !== root) {
        problems.push(`${where}: ${href} points outside the repository`);
      } else if (!fs.existsSync(targetFile)) {
        problems.push(`${where}: ${href}: ${path.relative(root, targetFile)} does not exist`);
      } else if (
        anchor !== undefined &&
        targetFile.endsWith('.md') &&
        !scan(targetFile).anchors.has(anchor)
      ) {
        problems.push(
          `${where}: ${href}: no heading or anchor "${anchor}" in ${path.relative(root, targetFile)}`,
        );
      }
    }
  }
  return problems;
}

// Run as a script, not imported by a test:
if (process.argv[1]?.endsWith(path.join('scripts', 'docs', 'links.mjs'))) {
  const root = path.resolve(path.dirname(process.argv[1]), '..', '..');
  const problems = brokenLinks(documentationPages(root), root);
  for (const problem of problems) console.error(problem);
  process.exit(problems.length ? 1 : 0);
}
