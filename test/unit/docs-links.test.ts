import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { brokenLinks, documentationPages, scanMarkdown } from '../../scripts/docs/links.mjs';

const root = path.join(__dirname, '..', '..');

describe('documentation links', () => {
  it('every relative link and anchor of README.md, CHANGELOG.md, docs/ and the chart README resolves', () => {
    const pages = documentationPages(root);
    expect(pages).toEqual(expect.arrayContaining(['README.md', 'CHANGELOG.md', 'docs/configuration.md']));
    expect(brokenLinks(pages, root)).toEqual([]);
  });

  it('slugs headings as GitHub does, code spans and duplicates included', () => {
    const { anchors } = scanMarkdown(
      '# Operating modelgate\n## `npm run image:check`\n## /status\n## Notes\n## Notes\n<a id="custom"></a>\n',
    );
    expect([...anchors].sort()).toEqual(
      ['custom', 'notes', 'notes-1', 'npm-run-imagecheck', 'operating-modelgate', 'status'].sort(),
    );
  });

  it('reports a missing file, a missing anchor and a link out of the repository, but not links inside code', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'modelgate-links-'));
    try {
      fs.mkdirSync(path.join(dir, 'docs'));
      fs.writeFileSync(path.join(dir, 'docs', 'a.md'), '# A\n\n## Real heading\n');
      fs.writeFileSync(
        path.join(dir, 'README.md'),
        [
          '# Front',
          '[ok](docs/a.md#real-heading) [self](#front) [web](https://example.com/x#y)',
          '[gone](docs/missing.md) | [bad anchor](docs/a.md#nope)',
          '[out](../elsewhere.md)',
          '`[not a link](nowhere.md)`',
          '```\n[also not](nowhere.md)\n```',
        ].join('\n\n'),
      );
      expect(brokenLinks(documentationPages(dir), dir)).toEqual([
        'README.md:5: docs/missing.md: docs/missing.md does not exist',
        'README.md:5: docs/a.md#nope: no heading or anchor "nope" in docs/a.md',
        'README.md:7: ../elsewhere.md points outside the repository',
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
