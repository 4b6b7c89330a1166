/**
 * The parts of @kubernetes/client-node that modelgate-init uses, and the API client it builds of them, imported by
 * name and loaded on demand (an `import()` of this module). Named imports let the bundler keep only these and what
 * they need: about half of the client, which is most of modelgate-init's start-up cost when it talks to the API
 * server.
 */
import https from 'node:https';
import {
  CoreV1Api,
  createConfiguration,
  IsomorphicFetchHttpLibrary,
  Observable,
  ServerConfiguration,
  type HttpLibrary,
  type KubeConfig,
  type RequestContext,
  type ResponseContext,
  type SecurityAuthentication,
} from '@kubernetes/client-node';

export { KubeConfig } from '@kubernetes/client-node';

/** What a TLS connection to the API server is made with; another value of any of them needs another connection. */
const CONNECTION_OPTIONS = [
  'ca',
  'cert',
  'key',
  'pfx',
  'passphrase',
  'rejectUnauthorized',
  'servername',
] as const;

/**
 * A connection left idle this long is closed (a waiting pod's two reads can be minutes apart): before a load
 * balancer's idle timeout could drop it silently and leave the next request hanging on a dead connection.
 */
const IDLE_MS = 30_000;

/** Equal option values: the KubeConfig reads certificate files afresh for every request, as new Buffers. */
function sameValue(a: unknown, b: unknown): boolean {
  return Buffer.isBuffer(a) && Buffer.isBuffer(b) ? a.equals(b) : a === b;
}

function sameConnection(a: https.AgentOptions, b: https.AgentOptions): boolean {
  return CONNECTION_OPTIONS.every((name) => sameValue(a[name], b[name]));
}

/** A connection closed under a request before its answer: the request may go again, on a new connection. */
function connectionReset(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 'ECONNRESET' || code === 'EPIPE';
}

/**
 * The library's own HTTP client, sending a request a second time when the connection it went out on was reset: a
 * kept-alive connection that the API server (or something between) closed just as it was reused. Both requests
 * modelgate-init makes are safe to repeat: a GET, and a PUT carrying the resourceVersion it read (a repeat of one
 * that did land gets a 409, and the sink reads again).
 */
class RetryOnResetHttpLibrary implements HttpLibrary {
  private readonly inner = new IsomorphicFetchHttpLibrary();

  send(request: RequestContext): Observable<ResponseContext> {
    const once = () => this.inner.send(request).toPromise();
    return new Observable(
      once().catch((error: unknown) => (connectionReset(error) ? once() : Promise.reject(error))),
    );
  }
}

/**
 * A CoreV1Api whose requests share one kept-alive TLS connection to the API server. client-node makes a new
 * https.Agent for every request (KubeConfig.applySecurityAuthentication), so every request of an init run would
 * open a connection and pay a TLS handshake of its own, on both sides, at the moment a rollout starts every pod at
 * once: a waiting pod reads the ConfigMap twice, the one that fetches three or four times. The credentials are still
 * applied per request by the KubeConfig (tokens from a file or an exec plugin are read as the library reads them);
 * only the connection is kept, and it is made again should the TLS options change (a rotated client certificate);
 * a request whose kept connection was reset goes once more, on a new one. A proxy agent (`proxy-url`) or a
 * plain-http one is left as the library made it.
 */
export function keepAliveCoreApi(kubeConfig: KubeConfig): CoreV1Api {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  let kept: https.Agent | undefined;
  const auth: SecurityAuthentication = {
    getName: () => kubeConfig.getName(),
    async applySecurityAuthentication(context: RequestContext) {
      await kubeConfig.applySecurityAuthentication(context);
      const made = context.getAgent();
      if (!(made instanceof https.Agent) || made.constructor !== https.Agent) return;
      if (!kept || !sameConnection(kept.options, made.options)) {
        kept?.destroy();
        kept = new https.Agent({
          ...made.options,
          keepAlive: true,
          timeout: made.options.timeout ?? IDLE_MS,
        });
      }
      context.setAgent(kept);
    },
  };
  const configuration = createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: auth },
    httpApi: new RetryOnResetHttpLibrary(),
  });
  return new CoreV1Api(configuration);
}
