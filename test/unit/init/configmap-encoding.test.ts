import { buildArtifact } from '../../../core/artifact/schema';
import { artifactModels } from '../../support/models.mjs';
import { CONFIGMAP_GZIP_KEY, CONFIGMAP_KEY } from '../../../core/artifact/configmap';
import {
  configMapDataBytes,
  decodeConfigMap,
  encodeConfigMap,
} from '../../../init/models/sinks/configmap-sink';

const models = (n: number) =>
  artifactModels(n, { fields: (i) => ({ tags: ['t'], createdAt: i, stake: '1' }) });

const artifact = (n: number) =>
  buildArtifact({
    models: models(n),
    source: { url: 'u', etag: null, lastModified: null },
    fetchedAt: '2026-11-24T10:00:00Z',
  });

describe('ConfigMap encoding', () => {
  it('stores a small artifact as models.json, keeping other keys and labels', () => {
    const cm = encodeConfigMap(
      { metadata: { name: 'm', labels: { a: 'b' }, resourceVersion: '7' }, data: { other: 'x' } },
      artifact(2),
      256 * 1024,
    );
    expect(Object.keys(cm.data!).sort()).toEqual([CONFIGMAP_KEY, 'other']);
    expect(cm.binaryData).toEqual({});
    expect(cm.metadata).toEqual({ name: 'm', labels: { a: 'b' }, resourceVersion: '7' });
    expect(decodeConfigMap(cm)).toEqual({ state: 'valid', artifact: artifact(2) });
  });

  it('stores a large artifact gzip-compressed in binaryData and drops the plain key', () => {
    const big = artifact(3000);
    const cm = encodeConfigMap({ data: { [CONFIGMAP_KEY]: 'old' } }, big, 256 * 1024);
    expect(cm.data).toEqual({});
    expect(Object.keys(cm.binaryData!)).toEqual([CONFIGMAP_GZIP_KEY]);
    expect(configMapDataBytes(cm)).toBeLessThan(JSON.stringify(big).length / 4);
    expect(decodeConfigMap(cm)).toEqual({ state: 'valid', artifact: big });
  });

  it('reports an empty ConfigMap as missing and garbage as invalid', () => {
    expect(decodeConfigMap({})).toEqual({ state: 'missing' });
    expect(decodeConfigMap({ data: { [CONFIGMAP_KEY]: '{' } })).toMatchObject({ state: 'invalid' });
    expect(decodeConfigMap({ binaryData: { [CONFIGMAP_GZIP_KEY]: 'bm90Z3ppcA==' } })).toMatchObject({
      state: 'invalid',
      reason: expect.stringMatching(/not gzip/),
    });
  });
});
