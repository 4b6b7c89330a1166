// Scenario 7, Security as runc enforces it: what the chart's security contexts and token projection amount to inside
// running containers: uid 10001, a read-only root filesystem, no capabilities, seccomp on, no ServiceAccount token
// in the app container; and the init container's token may write its own models ConfigMap but no other (403).
import * as k8s from '@kubernetes/client-node';
import { expectSuccess } from '../support/k8s/commands';
import { apps, core, until } from './harness/node';
import { describeScenario, SERVER } from './harness/scenario';

/** Run with `node -e` in a container: what the process is and may do, as JSON on stdout. */
const INSPECT = `
const fs = require('fs');
const status = Object.fromEntries(fs.readFileSync('/proc/self/status', 'utf8').trim().split('\\n').map((l) => l.split(/:\\s+/)));
let rootWrite = 'written';
try { fs.writeFileSync('/app/e2e-probe', 'x'); } catch (e) { rootWrite = e.code; }
let tmpWrite = 'written';
try { fs.writeFileSync('/tmp/e2e-probe', 'x'); } catch (e) { tmpWrite = e.code; }
console.log(JSON.stringify({
  uid: process.getuid(), gid: process.getgid(), capEff: status.CapEff, noNewPrivs: status.NoNewPrivs,
  seccomp: status.Seccomp, rootWrite, tmpWrite,
  token: fs.existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token'),
  tokenEnv: Object.keys(process.env).filter((k) => /^KUBECONFIG$|(^|_)TOKEN(_FILE)?$/.test(k) && k !== 'ADMIN_TOKEN'),
}));
`;

/** Run as the init container: PATCH the pod's own models ConfigMap and another one with the projected token. */
const WRITE_CONFIGMAPS = `
const fs = require('fs');
const https = require('https');
const dir = '/var/run/secrets/kubernetes.io/serviceaccount';
const token = fs.readFileSync(dir + '/token', 'utf8');
const ca = fs.readFileSync(dir + '/ca.crt');
const ns = fs.readFileSync(dir + '/namespace', 'utf8');
const patch = (name) => new Promise((resolve) => {
  const req = https.request({
    host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT, method: 'PATCH', ca,
    path: '/api/v1/namespaces/' + ns + '/configmaps/' + name,
    headers: { authorization: 'Bearer ' + token, 'content-type': 'application/merge-patch+json' },
  }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
  req.on('error', (e) => resolve(e.code));
  req.end(JSON.stringify({ metadata: { annotations: { 'e2e/written': 'yes' } } }));
});
Promise.all([patch(process.argv[1]), patch(process.argv[2])]).then(([own, other]) => console.log(JSON.stringify({ own, other })));
`;

describeScenario('e2e 7, security: what runc enforces in the running pods', 'security', (s) => {
  it('runs the app as 10001 on a read-only root, without capabilities or a token; the init token writes its ConfigMap only', async () => {
    const { values } = await s.chartValues();
    await s.release('install', values, ['--wait']);
    const [pod] = await s.pods(SERVER);

    const exec = expectSuccess(
      'kubectl exec',
      await s.kubectl(['exec', pod!.metadata!.name!, '-c', 'app', '--', 'node', '-e', INSPECT]),
    );
    expect(JSON.parse(exec.stdout)).toEqual({
      uid: 10001,
      gid: 10001,
      capEff: '0000000000000000',
      noNewPrivs: '1',
      // 2: a seccomp filter (RuntimeDefault) is on.
      seccomp: '2',
      rootWrite: 'EROFS',
      tmpWrite: 'written',
      token: false,
      tokenEnv: [],
    });

    // The Deployment's own init container, with its token volume, env and security context, made to try the
    // writes instead of running modelgate-init.
    await core().createNamespacedConfigMap({ namespace: s.namespace, body: { metadata: { name: 'other' } } });
    const deployment = await apps().readNamespacedDeployment({
      name: 'mg-modelgate',
      namespace: s.namespace,
    });
    const spec = structuredClone(deployment.spec!.template.spec!) as k8s.V1PodSpec;
    const init = spec.initContainers![0]!;
    init.command = ['node', '-e', WRITE_CONFIGMAPS];
    init.args = ['mg-modelgate-models', 'other'];
    spec.containers = [
      {
        ...spec.containers[0]!,
        command: ['node', '-e', INSPECT],
        args: [],
        startupProbe: undefined,
        livenessProbe: undefined,
        readinessProbe: undefined,
        lifecycle: undefined,
      },
    ];
    spec.restartPolicy = 'Never';
    await core().createNamespacedPod({
      namespace: s.namespace,
      body: { metadata: { name: 'init-identity', labels: { e2e: 'init-identity' } }, spec },
    });
    await until(
      'the init identity pod to finish',
      async () => {
        const p = await core().readNamespacedPod({ name: 'init-identity', namespace: s.namespace });
        return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed' ? p : undefined;
      },
      120_000,
    );
    const initLog = expectSuccess(
      'kubectl logs',
      await s.kubectl(['logs', 'init-identity', '-c', init.name]),
    );
    expect(JSON.parse(initLog.stdout)).toEqual({ own: 200, other: 403 });
    // The same pod's app container: no token there either.
    const appLog = expectSuccess('kubectl logs', await s.kubectl(['logs', 'init-identity', '-c', 'app']));
    expect(JSON.parse(appLog.stdout)).toMatchObject({ uid: 10001, rootWrite: 'EROFS', token: false });
  });
});
