import { accessSync, constants } from 'node:fs';
import path from 'node:path';

/**
 * Tools built into the git-ignored `.tools/bin` by `scripts/tools/provision-all.sh` (helm, kustomize,
 * kube-apiserver, etcd), and promtool from the Debian package `prometheus` (scripts/ci/system-packages.sh), found
 * on PATH. A suite that needs one and does not find it is skipped with a loud notice, except under
 * MODELGATE_REQUIRE_ALL=1 (set by `.ci/run`), where the missing tool fails the run instead.
 */
export type ToolName = 'helm' | 'kustomize' | 'kube-apiserver' | 'etcd' | 'promtool';

/** Tools that come from system packages rather than .tools/bin. */
const SYSTEM_TOOLS: ReadonlySet<ToolName> = new Set(['promtool']);

export const repoRoot = path.resolve(__dirname, '..', '..');

export function toolsBinDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.TOOLS_DIR ? path.join(path.resolve(env.TOOLS_DIR), 'bin') : path.join(repoRoot, '.tools', 'bin');
}

/** The tool's absolute path, or undefined when it is not provisioned (or not executable). */
export function findTool(name: ToolName, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dirs = [toolsBinDir(env)];
  if (SYSTEM_TOOLS.has(name)) dirs.push(...(env.PATH ?? '').split(path.delimiter).filter(Boolean));
  for (const dir of dirs) {
    const file = path.join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function requireAll(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.MODELGATE_REQUIRE_ALL === '1';
}

export function missingToolMessage(
  missing: readonly ToolName[],
  env: NodeJS.ProcessEnv = process.env,
): string {
  const built = missing.filter((t) => !SYSTEM_TOOLS.has(t));
  const system = missing.filter((t) => SYSTEM_TOOLS.has(t));
  const parts: string[] = [];
  if (built.length > 0)
    parts.push(
      `${built.join(', ')} not found in ${toolsBinDir(env)}. ` +
        'Run `bash scripts/tools/provision-all.sh` (needs Go; builds them from the Go module proxy).',
    );
  if (system.length > 0)
    parts.push(
      `${system.join(', ')} not found on PATH. Run \`bash scripts/ci/system-packages.sh\` (as root).`,
    );
  return parts.join(' ');
}

export type ToolDecision =
  | { kind: 'run'; paths: Record<ToolName, string> }
  | { kind: 'skip'; message: string }
  | { kind: 'fail'; message: string };

/** What a suite needing `tools` does here: run, skip (with a notice) or fail (MODELGATE_REQUIRE_ALL=1). */
export function decideTools(tools: readonly ToolName[], env: NodeJS.ProcessEnv = process.env): ToolDecision {
  const paths = {} as Record<ToolName, string>;
  const missing: ToolName[] = [];
  for (const tool of tools) {
    const found = findTool(tool, env);
    if (found) paths[tool] = found;
    else missing.push(tool);
  }
  if (missing.length === 0) return { kind: 'run', paths };
  const message = missingToolMessage(missing, env);
  return requireAll(env) ? { kind: 'fail', message } : { kind: 'skip', message };
}

const banner = '#'.repeat(100);

/**
 * `describe` for a suite that needs tools from `.tools/bin`. The body receives the tools' paths. Missing tools:
 * a loud notice and a skipped suite, or, with MODELGATE_REQUIRE_ALL=1, one failing test that says what to run.
 */
export function describeWithTools(
  title: string,
  tools: readonly ToolName[],
  body: (paths: Record<ToolName, string>) => void,
): void {
  const decision = decideTools(tools);
  if (decision.kind === 'run') {
    describe(title, () => body(decision.paths));
    return;
  }
  if (decision.kind === 'fail') {
    describe(title, () => {
      it('has its tools (MODELGATE_REQUIRE_ALL=1 forbids skipping)', () => {
        throw new Error(`MODELGATE_REQUIRE_ALL=1: ${decision.message}`);
      });
    });
    return;
  }
  console.warn(`\n${banner}\nSKIP "${title}": ${decision.message}\n${banner}\n`);
  describe.skip(title, () => {
    it('needs its tools', () => undefined);
  });
}
