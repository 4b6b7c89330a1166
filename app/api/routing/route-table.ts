import type { ArtifactModel } from '../../../core/artifact/schema';
import { globToRegExp } from '../model-glob';
import type { MatchSpec, RouteSpec, TargetSpec } from './routing-file';

/** One place a request may go: an upstream and the model name it is sent. */
export interface PlannedTarget {
  readonly upstream: string;
  readonly model: string;
}

/** Routes compiled from the routing file: the first route whose match fits a model decides its targets. */
export interface RouteTable {
  /** The targets for a model in the order to try them; undefined when no route matches it. */
  plan(model: ArtifactModel, random?: () => number): PlannedTarget[] | undefined;
}

interface CompiledRoute {
  matches(model: ArtifactModel): boolean;
  /** Targets grouped by priority, lowest first. */
  tiers: TargetSpec[][];
}

function compileMatch(match: MatchSpec): (model: ArtifactModel) => boolean {
  const glob = match.glob === undefined ? undefined : globToRegExp(match.glob);
  return (model) =>
    (match.name === undefined || model.id === match.name) &&
    (glob === undefined || glob.test(model.id)) &&
    (match.tag === undefined || model.tags.includes(match.tag)) &&
    (match.type === undefined || model.type === match.type);
}

function tiers(targets: readonly TargetSpec[]): TargetSpec[][] {
  const byPriority = new Map<number, TargetSpec[]>();
  for (const target of targets) {
    const tier = byPriority.get(target.priority);
    if (tier) tier.push(target);
    else byPriority.set(target.priority, [target]);
  }
  return [...byPriority.entries()].sort(([a], [b]) => a - b).map(([, tier]) => tier);
}

/**
 * A weighted random order (Efraimidis-Spirakis): each target draws u^(1/weight) and the largest goes first, so a
 * target's chance of being first is its share of the tier's weight, and the others follow as fallbacks.
 */
function weightedOrder(tier: readonly TargetSpec[], random: () => number): TargetSpec[] {
  if (tier.length === 1) return [tier[0]!];
  return tier
    .map((target) => ({ target, key: Math.pow(1 - random(), 1 / target.weight) }))
    .sort((a, b) => b.key - a.key)
    .map(({ target }) => target);
}

export function sentModelName(target: TargetSpec, model: ArtifactModel): string {
  if (target.rename !== undefined) return target.rename;
  return target.model === 'name' ? model.id : model.upstreamId;
}

export function compileRoutes(routes: readonly RouteSpec[]): RouteTable {
  const compiled: CompiledRoute[] = routes.map((route) => ({
    matches: compileMatch(route.match),
    tiers: tiers(route.targets),
  }));
  return {
    plan(model, random = Math.random) {
      const route = compiled.find((r) => r.matches(model));
      if (!route) return undefined;
      const planned: PlannedTarget[] = [];
      for (const tier of route.tiers)
        for (const target of weightedOrder(tier, random))
          planned.push({ upstream: target.upstream, model: sentModelName(target, model) });
      return planned;
    },
  };
}
