// The chart's PrometheusRule, checked and unit-tested with promtool: each alert fires on the series that mean
// trouble for this release (after its `for`), and stays quiet on healthy series and on other releases' pods.
import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { describeWithTools } from '../../support/tools';
import { helmTemplate, one, scenarioFile } from '../../support/deploy/render';
import { tempDir } from '../../support/temp.mjs';

jest.setTimeout(60_000);

function run(file: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({
        code: error ? (typeof error.code === 'number' ? error.code : 1) : 0,
        output: stdout + stderr,
      });
    });
  });
}

const ours = 'namespace="prod",job="mg-modelgate"';
const troubled = [
  { series: `modelgate_models_artifact_age_seconds{${ours},pod="p1"}`, values: '4000+60x30' },
  { series: `modelgate_models_artifact_age_seconds{${ours},pod="p2"}`, values: '100+0x30' },
  {
    series:
      'kube_pod_init_container_status_waiting_reason{namespace="prod",pod="mg-modelgate-6d4f9-abcde",container="init-all",reason="CrashLoopBackOff"}',
    values: '1x30',
  },
  {
    series:
      'kube_pod_init_container_status_waiting_reason{namespace="prod",pod="other-app-0",container="init",reason="CrashLoopBackOff"}',
    values: '1x30',
  },
  {
    series: 'kube_job_status_failed{namespace="prod",job_name="mg-modelgate-refresh-29000000"}',
    values: '1x30',
  },
  { series: `modelgate_ready{${ours},pod="p1"}`, values: '0x30' },
  { series: `modelgate_ready{${ours},pod="p2"}`, values: '1x30' },
  {
    series: 'kube_deployment_status_replicas_unavailable{namespace="prod",deployment="mg-modelgate"}',
    values: '0x30',
  },
  { series: `http_request_duration_seconds_count{${ours},pod="p2",status_code="200"}`, values: '0+90x30' },
  { series: `http_request_duration_seconds_count{${ours},pod="p2",status_code="503"}`, values: '0+10x30' },
  // One pod's breaker for upstream `primary` stays open; `backup` flaps to half-open for a minute and closes.
  {
    series: `modelgate_upstream_breaker_state{${ours},pod="p1",upstream="primary",state="closed"}`,
    values: '0x30',
  },
  {
    series: `modelgate_upstream_breaker_state{${ours},pod="p1",upstream="primary",state="open"}`,
    values: '1x30',
  },
  {
    series: `modelgate_upstream_breaker_state{${ours},pod="p2",upstream="primary",state="closed"}`,
    values: '1x30',
  },
  {
    series: `modelgate_upstream_breaker_state{${ours},pod="p1",upstream="backup",state="closed"}`,
    values: '1 1 0 1x27',
  },
  { series: `modelgate_routing_file_valid{${ours},pod="p1"}`, values: '1 1 0x28' },
  { series: `modelgate_routing_file_valid{${ours},pod="p2"}`, values: '1x30' },
];
const healthy = [
  { series: `modelgate_models_artifact_age_seconds{${ours},pod="p1"}`, values: '100+0x30' },
  { series: `modelgate_ready{${ours},pod="p1"}`, values: '1x30' },
  {
    series: 'kube_deployment_status_replicas_unavailable{namespace="prod",deployment="mg-modelgate"}',
    values: '0x30',
  },
  {
    series: 'kube_job_status_failed{namespace="prod",job_name="mg-modelgate-refresh-29000000"}',
    values: '0x30',
  },
  // Another release in the namespace failing must not page this one.
  { series: 'kube_job_status_failed{namespace="prod",job_name="other-refresh-1"}', values: '1x30' },
  { series: `http_request_duration_seconds_count{${ours},pod="p1",status_code="200"}`, values: '0+99x30' },
  { series: `http_request_duration_seconds_count{${ours},pod="p1",status_code="500"}`, values: '0+1x30' },
  {
    series: `modelgate_upstream_breaker_state{${ours},pod="p1",upstream="primary",state="closed"}`,
    values: '1x30',
  },
  { series: `modelgate_routing_file_valid{${ours},pod="p1"}`, values: '1x30' },
  // Another release's open breaker and invalid file do not page this one.
  {
    series:
      'modelgate_upstream_breaker_state{namespace="prod",job="other",pod="o1",upstream="primary",state="closed"}',
    values: '0x30',
  },
  { series: 'modelgate_routing_file_valid{namespace="prod",job="other",pod="o1"}', values: '0x30' },
];

const firing = (alert: string, labels: string) =>
  `ALERTS{alertname="${alert}",alertstate="firing",${labels}}`;

describeWithTools('PrometheusRule of the chart (promtool)', ['helm', 'promtool'], ({ helm, promtool }) => {
  let dir: string;
  let rulesFile: string;
  beforeAll(async () => {
    const objects = await helmTemplate(helm, {
      valuesFiles: [scenarioFile('monitoring')],
      releaseName: 'mg',
      namespace: 'prod',
    });
    dir = tempDir('rules');
    rulesFile = path.join(dir, 'rules.yaml');
    writeFileSync(rulesFile, YAML.stringify(one(objects, 'PrometheusRule').spec));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('passes promtool check rules', async () => {
    const result = await run(promtool, ['check', 'rules', rulesFile]);
    expect(result.output).toContain('SUCCESS: 6 rules found');
    expect(result.code).toBe(0);
  });

  it('fires every alert on troubled series after its `for`, and none on healthy ones or other releases', async () => {
    const tests = {
      rule_files: [rulesFile],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: troubled,
          promql_expr_test: [
            {
              expr: 'ALERTS{alertstate="firing"}',
              eval_time: '20m',
              exp_samples: [
                {
                  labels: firing('ModelgateArtifactStale', 'namespace="prod",pod="p1",severity="warning"'),
                  value: 1,
                },
                {
                  labels: firing(
                    'ModelgateInitFailing',
                    'container="init-all",namespace="prod",pod="mg-modelgate-6d4f9-abcde",severity="critical"',
                  ),
                  value: 1,
                },
                {
                  labels: firing(
                    'ModelgateInitFailing',
                    'job_name="mg-modelgate-refresh-29000000",namespace="prod",severity="critical"',
                  ),
                  value: 1,
                },
                {
                  labels: firing('ModelgatePodsNotReady', 'namespace="prod",pod="p1",severity="warning"'),
                  value: 1,
                },
                { labels: firing('ModelgateHigh5xxRate', 'namespace="prod",severity="critical"'), value: 1 },
                {
                  labels: firing(
                    'ModelgateUpstreamBreakerOpen',
                    'namespace="prod",severity="warning",upstream="primary"',
                  ),
                  value: 1,
                },
                {
                  labels: firing(
                    'ModelgateRoutingFileInvalid',
                    'namespace="prod",pod="p1",severity="warning"',
                  ),
                  value: 1,
                },
              ],
            },
            // `for: 5m` / `for: 15m`: nothing fires in the first minutes.
            { expr: 'ALERTS{alertstate="firing"}', eval_time: '3m', exp_samples: [] },
          ],
        },
        {
          interval: '1m',
          input_series: healthy,
          promql_expr_test: [{ expr: 'ALERTS', eval_time: '20m', exp_samples: [] }],
        },
      ],
    };
    const testFile = path.join(dir, 'tests.yaml');
    writeFileSync(testFile, YAML.stringify(tests));
    const result = await run(promtool, ['test', 'rules', testFile]);
    expect({ code: result.code, output: result.code === 0 ? '' : result.output }).toEqual({
      code: 0,
      output: '',
    });
  });
});
