import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Container, Probe } from './pod-env';

/**
 * Evaluates a container's startup, liveness and readiness probes as the kubelet does: the startup probe first
 * (liveness and readiness wait for it), each probe every periodSeconds with timeoutSeconds per attempt, 200-399
 * counts as success, failureThreshold consecutive failures fail it (startup and liveness: the kubelet would kill
 * the container), successThreshold consecutive successes make the pod ready.
 */

export interface ProbeEvent {
  atMs: number;
  probe: 'startup' | 'liveness' | 'readiness';
  ok: boolean;
  detail: string;
}

export function httpProbe(
  port: number,
  path: string,
  timeoutMs: number,
): Promise<{ ok: boolean; detail: string }> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, timeout: timeoutMs }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      resolve({ ok: status >= 200 && status < 400, detail: `HTTP ${status}` });
    });
    req.once('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.once('error', (error) => resolve({ ok: false, detail: error.message }));
  });
}

export class ProbeRunner {
  readonly events: ProbeEvent[] = [];
  /** Why the kubelet would have killed the container, once it would have. */
  killedBecause: string | undefined;
  ready = false;
  readyAtMs: number | undefined;
  startedAtMs: number | undefined;
  private stopped = false;
  private readonly t0 = Date.now();
  private readonly loops: Promise<void>[] = [];

  constructor(
    private readonly container: Container,
    /** containerPort -> host port */
    private readonly ports: Map<number, number>,
  ) {}

  /** Seconds the startup probe allows: periodSeconds x failureThreshold (plus initialDelaySeconds). */
  static startupBudgetMs(probe: Probe | undefined): number {
    if (!probe) return 0;
    return (
      ((probe.initialDelaySeconds ?? 0) + (probe.periodSeconds ?? 10) * (probe.failureThreshold ?? 3)) * 1000
    );
  }

  private hostPort(probe: Probe): number {
    const port = probe.httpGet!.port;
    const containerPort =
      typeof port === 'number' ? port : this.container.ports?.find((p) => p.name === port)?.containerPort;
    const host = containerPort === undefined ? undefined : this.ports.get(containerPort);
    if (host === undefined)
      throw new Error(`probe port ${port} is not a port of container ${this.container.name}`);
    return host;
  }

  private async attempt(kind: ProbeEvent['probe'], probe: Probe): Promise<boolean> {
    if (!probe.httpGet) throw new Error(`${kind} probe of ${this.container.name} is not httpGet`);
    const { ok, detail } = await httpProbe(
      this.hostPort(probe),
      probe.httpGet.path ?? '/',
      (probe.timeoutSeconds ?? 1) * 1000,
    );
    this.events.push({ atMs: Date.now() - this.t0, probe: kind, ok, detail });
    return ok;
  }

  start(): void {
    this.loops.push(this.startupLoop());
  }

  private async startupLoop(): Promise<void> {
    const probe = this.container.startupProbe;
    if (probe) {
      await sleep((probe.initialDelaySeconds ?? 0) * 1000);
      let failures = 0;
      for (;;) {
        if (this.stopped) return;
        if (await this.attempt('startup', probe)) break;
        if (++failures >= (probe.failureThreshold ?? 3)) {
          this.killedBecause = `startup probe failed ${failures} times (last: ${this.events.at(-1)?.detail})`;
          return;
        }
        await sleep((probe.periodSeconds ?? 10) * 1000);
      }
    }
    this.startedAtMs = Date.now() - this.t0;
    this.loops.push(this.livenessLoop(), this.readinessLoop());
  }

  private async livenessLoop(): Promise<void> {
    const probe = this.container.livenessProbe;
    if (!probe) return;
    await sleep((probe.initialDelaySeconds ?? 0) * 1000);
    let failures = 0;
    while (!this.stopped && !this.killedBecause) {
      failures = (await this.attempt('liveness', probe)) ? 0 : failures + 1;
      if (failures >= (probe.failureThreshold ?? 3)) {
        this.killedBecause = `liveness probe failed ${failures} times (last: ${this.events.at(-1)?.detail})`;
        return;
      }
      await this.pause(probe);
    }
  }

  private async readinessLoop(): Promise<void> {
    const probe = this.container.readinessProbe;
    if (!probe) {
      this.markReady(true);
      return;
    }
    await sleep((probe.initialDelaySeconds ?? 0) * 1000);
    let failures = 0;
    let successes = 0;
    while (!this.stopped && !this.killedBecause) {
      if (await this.attempt('readiness', probe)) {
        failures = 0;
        if (++successes >= (probe.successThreshold ?? 1)) this.markReady(true);
      } else {
        successes = 0;
        if (++failures >= (probe.failureThreshold ?? 3)) this.markReady(false);
      }
      await this.pause(probe);
    }
  }

  private markReady(ready: boolean): void {
    if (ready && this.readyAtMs === undefined) this.readyAtMs = Date.now() - this.t0;
    this.ready = ready;
  }

  /** Sleeps one period, waking early when stopped. */
  private async pause(probe: Probe): Promise<void> {
    const end = Date.now() + (probe.periodSeconds ?? 10) * 1000;
    while (!this.stopped && Date.now() < end) await sleep(Math.min(100, end - Date.now()));
  }

  /** Resolves once ready, or rejects when the kubelet would have killed the container or `timeoutMs` passed. */
  async untilReady(timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.killedBecause)
        throw new Error(`the kubelet would kill ${this.container.name}: ${this.killedBecause}`);
      if (this.ready) return this.readyAtMs!;
      await sleep(50);
    }
    throw new Error(
      `${this.container.name} not ready within ${timeoutMs} ms; probes: ${JSON.stringify(this.events)}`,
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    // The startup loop adds the liveness and readiness loops when it succeeds: wait until no loop is left.
    for (let settled = 0; settled < this.loops.length;) {
      settled = this.loops.length;
      await Promise.all(this.loops);
    }
  }
}
