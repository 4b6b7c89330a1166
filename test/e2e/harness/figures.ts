// What the e2e scenarios measure, collected into bench/results/e2e-node.json (one entry per scenario, merged), so
// the benchmark report can show real-node figures beside the process-level ones.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../../support/tools';

export const FIGURES_FILE = path.join(repoRoot, 'bench', 'results', 'e2e-node.json');

/** Merges `figures` under `scenario` into the results file (scenarios run in separate jest workers). */
export function recordFigure(scenario: string, figures: Record<string, unknown>): void {
  fs.mkdirSync(path.dirname(FIGURES_FILE), { recursive: true });
  let current: { scenarios?: Record<string, unknown> } = {};
  try {
    current = JSON.parse(fs.readFileSync(FIGURES_FILE, 'utf8'));
  } catch {
    // first scenario of the run
  }
  const body = {
    benchmark: 'e2e-node',
    machine: { cpus: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30) },
    finishedAt: new Date().toISOString(),
    scenarios: { ...current.scenarios, [scenario]: { ...figures, at: new Date().toISOString() } },
  };
  const tmp = `${FIGURES_FILE}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(body, null, 2)}\n`);
  fs.renameSync(tmp, FIGURES_FILE);
  console.log(`e2e ${scenario}: ${JSON.stringify(figures)}`);
}
