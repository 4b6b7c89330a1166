import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { decideTools, findTool } from '../../support/tools';
import { tempDir } from '../../support/temp.mjs';

describe('test tools (.tools/bin)', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir('tools');
    mkdirSync(path.join(dir, 'bin'));
    writeFileSync(path.join(dir, 'bin', 'helm'), '#!/bin/sh\n', { mode: 0o755 });
    writeFileSync(path.join(dir, 'bin', 'kustomize'), 'not executable', { mode: 0o644 });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds executable tools in TOOLS_DIR/bin only', () => {
    expect(findTool('helm', { TOOLS_DIR: dir })).toBe(path.join(dir, 'bin', 'helm'));
    expect(findTool('kustomize', { TOOLS_DIR: dir })).toBeUndefined();
    expect(findTool('etcd', { TOOLS_DIR: dir })).toBeUndefined();
  });

  it('runs a suite whose tools are all there', () => {
    expect(decideTools(['helm'], { TOOLS_DIR: dir })).toEqual({
      kind: 'run',
      paths: { helm: path.join(dir, 'bin', 'helm') },
    });
  });

  it('skips with a notice naming the missing tool and the provisioning script', () => {
    const decision = decideTools(['helm', 'kustomize'], { TOOLS_DIR: dir });
    expect(decision.kind).toBe('skip');
    expect(decision.kind !== 'run' && decision.message).toMatch(/kustomize not found .*provision-all\.sh/);
  });

  it('looks for system tools (promtool) on PATH as well', () => {
    expect(findTool('promtool', { TOOLS_DIR: dir, PATH: path.join(dir, 'bin') })).toBeUndefined();
    writeFileSync(path.join(dir, 'promtool'), '#!/bin/sh\n', { mode: 0o755 });
    expect(findTool('promtool', { TOOLS_DIR: dir, PATH: `/nonexistent${path.delimiter}${dir}` })).toBe(
      path.join(dir, 'promtool'),
    );
    const decision = decideTools(['promtool'], { TOOLS_DIR: dir, PATH: '/nonexistent' });
    expect(decision.kind !== 'run' && decision.message).toMatch(
      /promtool not found on PATH.*system-packages\.sh/,
    );
  });

  it('names the script that installs each missing system tool', () => {
    const decision = decideTools(['promtool', 'containerd', 'runc', 'kubelet'], {
      TOOLS_DIR: dir,
      PATH: '/nonexistent',
    });
    const message = decision.kind !== 'run' ? decision.message : '';
    expect(message).toMatch(/kubelet not found in .*provision-all\.sh/);
    expect(message).toMatch(/promtool not found on PATH\. Run `bash scripts\/ci\/system-packages\.sh`/);
    expect(message).toMatch(
      /containerd, runc not found on PATH\. Run `bash scripts\/tools\/provision-node\.sh`/,
    );
  });

  it('fails instead of skipping under MODELGATE_REQUIRE_ALL=1', () => {
    const decision = decideTools(['kustomize'], { TOOLS_DIR: dir, MODELGATE_REQUIRE_ALL: '1' });
    expect(decision.kind).toBe('fail');
  });

  it('treats an unmet need (not root, a program off PATH) like a missing tool, with both reasons', () => {
    expect(decideTools(['helm'], { TOOLS_DIR: dir }, 'the e2e suite needs root.')).toEqual({
      kind: 'skip',
      message: 'the e2e suite needs root.',
    });
    const decision = decideTools(
      ['helm', 'etcd'],
      { TOOLS_DIR: dir, MODELGATE_REQUIRE_ALL: '1' },
      'not root.',
    );
    expect(decision.kind).toBe('fail');
    expect(decision.kind !== 'run' && decision.message).toMatch(
      /^etcd not found in .*provision-all\.sh.* not root\.$/,
    );
  });
});
