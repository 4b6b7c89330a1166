// Scenario 8, kustomize: `kubectl apply -k` of an overlay on k8s/, written the way the base's comments tell users
// to (namespace, image, MODEL_SOURCE_URL, a real DATABASE_URL Secret), and the pods turn Ready on the real node.
import fs from 'node:fs';
import { tempDir } from '../support/temp.mjs';
import path from 'node:path';
import YAML from 'yaml';
import { expectSuccess } from '../support/k8s/commands';
import { apps, IMAGE, until } from './harness/node';
import { describeScenario, kustomizeBaseDir, MODELS } from './harness/scenario';

describeScenario('e2e 8, kustomize: kubectl apply -k of an overlay on k8s/ turns Ready', 'kustomize', (s) => {
  it('applies the base with an overlay and every replica turns Ready', async () => {
    const db = await s.database();
    const source = await s.modelSource(MODELS);
    const overlay = tempDir('e2e-overlay');
    s.onCleanup(async () => fs.rmSync(overlay, { recursive: true, force: true }));
    fs.writeFileSync(path.join(overlay, 'secret.env'), `DATABASE_URL=${db.podUrl}\n`);
    fs.writeFileSync(
      path.join(overlay, 'kustomization.yaml'),
      YAML.stringify({
        apiVersion: 'kustomize.config.k8s.io/v1beta1',
        kind: 'Kustomization',
        namespace: s.namespace,
        resources: [path.relative(overlay, kustomizeBaseDir)],
        images: [{ name: 'ghcr.io/modelgate/modelgate', newName: IMAGE.repository, newTag: IMAGE.tag }],
        configMapGenerator: [
          { name: 'modelgate-env', behavior: 'merge', literals: [`MODEL_SOURCE_URL=${source.url}`] },
        ],
        secretGenerator: [{ name: 'modelgate', behavior: 'replace', envs: ['secret.env'] }],
      }),
    );
    const applied = Date.now();
    expectSuccess('kubectl apply -k', await s.kubectl(['apply', '-k', overlay]));
    const deployment = await until(
      'the kustomize Deployment to have every replica Ready',
      async () => {
        const d = await apps().readNamespacedDeployment({ name: 'modelgate', namespace: s.namespace });
        const want = d.spec?.replicas ?? 1;
        return d.status?.readyReplicas === want && d.status?.updatedReplicas === want ? d : undefined;
      },
      300_000,
    );
    const readySeconds = (Date.now() - applied) / 1000;
    const statuses = await s.statuses(
      'app.kubernetes.io/instance=modelgate,app.kubernetes.io/component=server',
    );
    expect(statuses.length).toBe(deployment.spec?.replicas ?? 1);
    for (const p of statuses)
      expect(p.body).toMatchObject({ ready: true, models: { count: 2 }, init: { command: 'all' } });
    expect(await s.readyEndpoints('modelgate')).toHaveLength(statuses.length);
    expect(readySeconds).toBeGreaterThan(0);
  });
});
