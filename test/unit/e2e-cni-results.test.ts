// The e2e node's clean-up tells its own CNI result cache files from other runs' by what they hold: a node stopped
// between containerd's network set-up and its sandbox task (or between the task's removal and the network's
// teardown) leaves a result whose sandbox id no task names.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const { cniResultOfRun } =
  require('../e2e/harness/node-cleanup.mjs') as typeof import('../e2e/harness/node-cleanup.mjs');

/** A result cache file shaped as libcni writes it (cachedInfo): the network configuration base64 in `config`. */
function cacheFile(dir: string, name: string, runDir: string, extra: Record<string, unknown> = {}): string {
  const config = {
    cniVersion: '1.0.0',
    name: 'mge2e',
    plugins: [{ type: 'bridge', ipam: { dataDir: `${runDir}/cni/ipam` } }],
  };
  const file = path.join(dir, name);
  fs.writeFileSync(
    file,
    JSON.stringify({
      kind: 'cniCacheV1',
      containerId: name.split('-')[1],
      config: Buffer.from(JSON.stringify(config)).toString('base64'),
      ifName: 'eth0',
      networkName: 'mge2e',
      result: { cniVersion: '1.0.0' },
      ...extra,
    }),
  );
  return file;
}

describe('cniResultOfRun', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cni-results-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("matches a result whose configuration names the run's directory, whatever its sandbox id", () => {
    const file = cacheFile(dir, 'mge2e-0123abcd-eth0', '/tmp/mge2e-run1');
    expect(cniResultOfRun(file, '/tmp/mge2e-run1')).toBe(true);
  });

  it("leaves another run's results alone, even one whose directory shares a prefix", () => {
    const file = cacheFile(dir, 'mge2e-0123abcd-eth0', '/tmp/mge2e-run10');
    expect(cniResultOfRun(file, '/tmp/mge2e-run1')).toBe(false);
    expect(cniResultOfRun(file, '/tmp/mge2e-run2')).toBe(false);
  });

  it('matches by the recorded network namespace where the configuration does not name the directory', () => {
    const file = cacheFile(dir, 'mge2e-0123abcd-eth0', '/elsewhere', {
      netns: '/tmp/mge2e-run1/containerd/state/netns/cni-1',
    });
    expect(cniResultOfRun(file, '/tmp/mge2e-run1')).toBe(true);
  });

  it('ignores what is not a cache file, and a file that is gone', () => {
    const junk = path.join(dir, 'junk');
    fs.writeFileSync(junk, '/tmp/mge2e-run1/ not json');
    expect(cniResultOfRun(junk, '/tmp/mge2e-run1')).toBe(false);
    expect(cniResultOfRun(path.join(dir, 'absent'), '/tmp/mge2e-run1')).toBe(false);
  });
});
