import type { LoadedRouting } from './routing-source';
import { Upstream, type UpstreamEvents } from './upstream';

/**
 * The upstreams of the routing in force, reconciled on every reload by name: same name and URL keeps the running
 * upstream (its breaker, pooled connections and requests in flight) with the new settings; a new URL or a new name
 * starts a fresh one; a removed one is retired once its last request ends.
 */
export class UpstreamRegistry {
  private upstreams = new Map<string, Upstream>();

  constructor(
    private readonly now: () => number,
    private readonly events: UpstreamEvents,
  ) {}

  apply(routing: LoadedRouting): ReadonlyMap<string, Upstream> {
    const next = new Map<string, Upstream>();
    for (const [name, spec] of Object.entries(routing.file.upstreams)) {
      const apiKey = routing.apiKeys.get(name);
      const running = this.upstreams.get(name);
      if (running && running.url === spec.url) {
        running.update(spec, apiKey);
        next.set(name, running);
      } else {
        running?.retire();
        next.set(name, new Upstream(name, spec, apiKey, this.now, this.events));
      }
    }
    for (const [name, running] of this.upstreams) if (!next.has(name)) running.retire();
    this.upstreams = next;
    return next;
  }

  all(): Upstream[] {
    return [...this.upstreams.values()];
  }

  close(): void {
    for (const upstream of this.upstreams.values()) upstream.retire();
  }
}
