import type { ArtifactModel } from '../../../core/artifact/schema';
import type { Catalog, CatalogSnapshot } from '../../catalog/catalog';
import { NotFoundError, ServiceUnavailableError } from '../../http/errors';
import { nearMisses } from './near-miss';

export class ModelService {
  constructor(private readonly catalog: Catalog) {}

  snapshot(): CatalogSnapshot {
    const snapshot = this.catalog.current();
    if (!snapshot) {
      throw new ServiceUnavailableError(
        'The model catalog is not loaded yet (no valid artifact); retry shortly or check modelgate-init.',
        { code: 'catalog_unavailable' },
      );
    }
    return snapshot;
  }

  list(): readonly ArtifactModel[] {
    return this.snapshot().artifact.models;
  }

  /** By public name first, then by the source's Id. Undefined when neither matches. */
  find(name: string): ArtifactModel | undefined {
    const snapshot = this.snapshot();
    return snapshot.byId.get(name) ?? snapshot.byUpstreamId.get(name)?.[0];
  }

  /** Like find(), but an unknown model is a 404 that suggests near misses; never a silent fallback. */
  resolve(name: string, param: string | null = 'model'): ArtifactModel {
    const model = this.find(name);
    if (model) return model;
    const suggestions = nearMisses(name, this.snapshot().byId.keys());
    const hint =
      suggestions.length > 0 ? ` Did you mean ${suggestions.map((s) => JSON.stringify(s)).join(', ')}?` : '';
    throw new NotFoundError(
      `The model ${JSON.stringify(name)} does not exist.${hint} GET /v1/models lists the available models.`,
      { code: 'model_not_found', param, details: { suggestions } },
    );
  }
}
