import type { Probes } from '../../../app/probes';

/**
 * Probes for an app built around the real API without the runtime (no artifact store, no schema monitor): always
 * ready; /status shows what `describe` returns under `api`, as the runtime's does.
 */
export function stubProbes(describe: () => unknown = () => undefined): Probes {
  return {
    readiness: () => ({ ready: true, reasons: [] }),
    status: () => ({ api: describe() }) as unknown as ReturnType<Probes['status']>,
    beforeScrape: () => undefined,
  };
}
