import { createSnapshot } from '../../../app/catalog/catalog';
import { evaluateReadiness } from '../../../app/readiness';
import { buildStatus } from '../../../app/status';
import { makeArtifact } from '../../support/artifacts';

describe('readiness', () => {
  const inputs = {
    artifactProblem: () => undefined as string | undefined,
    schemaCompatible: () => true,
    schemaReason: () => 'schema behind',
    draining: () => false,
  };

  it('is ready only with an artifact, a compatible schema and no drain', () => {
    expect(evaluateReadiness(inputs)).toEqual({ ready: true, reasons: [] });
    expect(evaluateReadiness({ ...inputs, artifactProblem: () => 'no artifact' })).toEqual({
      ready: false,
      reasons: ['no artifact'],
    });
    expect(evaluateReadiness({ ...inputs, schemaCompatible: () => false }).reasons).toEqual([
      'schema behind',
    ]);
    expect(evaluateReadiness({ ...inputs, draining: () => true }).reasons).toEqual([
      'shutting down: draining in-flight requests',
    ]);
  });
});

describe('/status view', () => {
  const checkedAt = '2026-11-24T10:00:00.000Z';
  const base = {
    readiness: { ready: true, reasons: [] },
    schema: { state: 'unknown' as const, reason: 'not checked' },
    initReport: undefined,
    draining: false,
    pod: 'pod-1',
    version: '1.2.3',
    startedAt: Date.parse(checkedAt),
    limits: { maxAgeMs: 600_000, maxStaleMs: 3_600_000 },
  };

  it('reports age, staleness and a source without credentials', () => {
    const artifact = makeArtifact({ checkedAt, url: 'https://me:pw@src.example.test/x.json?token=t' });
    const snapshot = createSnapshot(artifact, '/run/models.json', Date.parse(checkedAt));
    const fresh = buildStatus({ ...base, snapshot, now: Date.parse(checkedAt) + 60_000 });
    expect(fresh.models).toMatchObject({
      count: 3,
      ageSeconds: 60,
      freshness: 'fresh',
      stale: false,
      source: 'https://src.example.test/x.json',
      file: '/run/models.json',
    });
    expect(fresh.uptimeSeconds).toBe(60);
    const old = buildStatus({ ...base, snapshot, now: Date.parse(checkedAt) + 601_000 });
    expect(old.models).toMatchObject({ freshness: 'stale', stale: true });
    const expired = buildStatus({ ...base, snapshot, now: Date.parse(checkedAt) + 3_601_000 });
    expect(expired.models).toMatchObject({ freshness: 'expired', stale: true });
    const flagged = buildStatus({
      ...base,
      snapshot: createSnapshot({ ...artifact, stale: true }, '/f'),
      now: Date.parse(checkedAt),
    });
    expect(flagged.models).toMatchObject({ freshness: 'stale', stale: true });
    expect(JSON.stringify(fresh)).not.toMatch(/pw|token=t/);
  });

  it('says draining, not ready, or ready', () => {
    expect(buildStatus({ ...base, snapshot: undefined, now: 0 }).models).toBeNull();
    expect(buildStatus({ ...base, snapshot: undefined, draining: true, now: 0 }).status).toBe('draining');
    expect(
      buildStatus({ ...base, snapshot: undefined, readiness: { ready: false, reasons: ['x'] }, now: 0 })
        .status,
    ).toBe('not ready');
  });

  it('says degraded, with the cause and since when, while a ready pod cannot reach the database', () => {
    const database = {
      state: 'unreachable' as const,
      since: '2026-11-24T10:00:00.000Z',
      forSeconds: 12.5,
      reason: 'connection refused',
      outages: 1,
      lastOutage: null,
    };
    const degraded = buildStatus({ ...base, snapshot: undefined, database, now: 0 });
    expect(degraded).toMatchObject({ status: 'degraded', ready: true, database });
    expect(degraded.reasons).toEqual([
      expect.stringContaining(
        'the database is unreachable since 2026-11-24T10:00:00.000Z (12.5 s: connection refused)',
      ),
    ]);
    const reachable = {
      ...database,
      state: 'reachable' as const,
      since: null,
      forSeconds: null,
      reason: null,
    };
    expect(buildStatus({ ...base, snapshot: undefined, database: reachable, now: 0 })).toMatchObject({
      status: 'ready',
      reasons: [],
    });
    // Not ready and draining say so first; the outage is still listed.
    const notReady = buildStatus({
      ...base,
      snapshot: undefined,
      database,
      readiness: { ready: false, reasons: ['no artifact'] },
      now: 0,
    });
    expect(notReady.status).toBe('not ready');
    expect(notReady.reasons).toHaveLength(2);
  });
});
