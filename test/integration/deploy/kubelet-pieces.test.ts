// The rehearsal's stand-ins for the kubelet must fail where the kubelet would: probes against a real HTTP server,
// and the ConfigMap volume layout on a real filesystem.
import { lstatSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { writeAtomically } from '../../support/kubelet-volume.mjs';
import type { Container } from '../../support/deploy/pod-env';
import { ProbeRunner } from '../../support/deploy/probes';
import { tempDir } from '../../support/temp.mjs';

jest.setTimeout(30_000);

describe('ProbeRunner', () => {
  let server: http.Server;
  let port: number;
  const answers: Record<string, number> = {};
  beforeAll(async () => {
    server = http.createServer((req, res) => res.writeHead(answers[req.url ?? ''] ?? 404).end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const probe = (p: string, failureThreshold = 2) => ({
    httpGet: { path: p, port: 'http' },
    periodSeconds: 1,
    timeoutSeconds: 1,
    failureThreshold,
  });
  const container = (start: string, live: string, ready: string): Container => ({
    name: 'app',
    ports: [{ name: 'http', containerPort: 8080 }],
    startupProbe: probe(start, 3),
    livenessProbe: probe(live),
    readinessProbe: probe(ready),
  });
  const runner = (c: Container) => new ProbeRunner(c, new Map([[8080, port]]));

  it('becomes ready once startup and readiness succeed', async () => {
    answers['/livez'] = 200;
    answers['/readyz'] = 200;
    const probes = runner(container('/livez', '/livez', '/readyz'));
    probes.start();
    await expect(probes.untilReady(5_000)).resolves.toBeLessThan(5_000);
    await probes.stop();
    expect(probes.killedBecause).toBeUndefined();
  });

  it('gives up after failureThreshold failed startup probes, as the kubelet kills the container', async () => {
    const probes = runner(container('/missing', '/livez', '/readyz'));
    probes.start();
    await expect(probes.untilReady(10_000)).rejects.toThrow(
      /startup probe failed 3 times \(last: HTTP 404\)/,
    );
    await probes.stop();
    expect(ProbeRunner.startupBudgetMs(container('/x', '/x', '/x').startupProbe)).toBe(3_000);
  });

  it('never becomes ready while readiness fails, and reports a failing liveness probe', async () => {
    answers['/livez'] = 200;
    answers['/notready'] = 503;
    const notReady = runner(container('/livez', '/livez', '/notready'));
    notReady.start();
    await expect(notReady.untilReady(2_500)).rejects.toThrow(/not ready within/);
    await notReady.stop();
    answers['/dying'] = 500;
    const dying = runner(container('/livez', '/dying', '/livez'));
    dying.start();
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    await dying.stop();
    expect(dying.killedBecause).toMatch(/liveness probe failed 2 times \(last: HTTP 500\)/);
  });
});

describe('writeAtomically (the kubelet ConfigMap volume layout)', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir('atomic');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('publishes keys as symlinks through ..data and swaps versions by replacing the ..data link', () => {
    writeAtomically(dir, { 'models.json': Buffer.from('v1'), extra: Buffer.from('x') });
    const first = readlinkSync(path.join(dir, '..data'));
    expect(readlinkSync(path.join(dir, 'models.json'))).toBe('..data/models.json');
    expect(readFileSync(path.join(dir, 'models.json'), 'utf8')).toBe('v1');

    writeAtomically(dir, { 'models.json': Buffer.from('v2') });
    const second = readlinkSync(path.join(dir, '..data'));
    expect(second).not.toBe(first);
    expect(lstatSync(path.join(dir, '..data')).isSymbolicLink()).toBe(true);
    expect(readFileSync(path.join(dir, 'models.json'), 'utf8')).toBe('v2');
    expect(readdirSync(dir).sort()).toEqual(['..data', second, 'models.json'].sort());
  });
});
