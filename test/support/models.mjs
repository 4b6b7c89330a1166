// @ts-check
// The one model factory of tests and benchmarks: catalog entries as an artifact holds them. Plain data with no
// import, so the benchmarks (which run the build) use it as well as the tests (which run the sources).

/** @typedef {import('../../core/artifact/schema.js').ArtifactModel} ArtifactModel */

/** @param {number} i @returns {string} a distinct upstream id (32 bytes of hex) for each `i` */
export const upstreamIdOf = (i) => `0x${i.toString(16).padStart(64, '0')}`;

/**
 * One model; `fields` replace the defaults.
 * @param {string} id @param {Partial<ArtifactModel>} [fields] @returns {ArtifactModel}
 */
export function artifactModel(id, fields = {}) {
  return {
    id,
    upstreamId: upstreamIdOf(0),
    tags: ['test'],
    type: 'LLM',
    createdAt: 1_745_330_395,
    owner: null,
    stake: '100000000000000000',
    fee: '1',
    ...fields,
  };
}

/**
 * `count` distinct models `<prefix>-<i>`, each with its own upstream id and creation time; `fields(i)` replace the
 * defaults of model `i` (its id included).
 * @param {number} count
 * @param {{ prefix?: string, fields?: (i: number) => Partial<ArtifactModel> }} [options]
 * @returns {ArtifactModel[]}
 */
export function artifactModels(count, options = {}) {
  const prefix = options.prefix ?? 'model';
  return Array.from({ length: count }, (_, i) =>
    artifactModel(`${prefix}-${i}`, {
      upstreamId: upstreamIdOf(i),
      createdAt: 1_745_330_395 + i,
      ...options.fields?.(i),
    }),
  );
}
