import fs from 'node:fs';
import type { KubeConfig } from '@kubernetes/client-node';

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** The `sub` claim of a JWT, without verifying it (only used to name the caller in an error message). */
function jwtSubject(token: string): string | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { sub?: unknown };
    return typeof claims.sub === 'string' ? claims.sub : undefined;
  } catch {
    return undefined;
  }
}

function tokenOf(kubeConfig: KubeConfig): string | undefined {
  const user = kubeConfig.getCurrentUser();
  if (!user) return undefined;
  if (user.token) return user.token;
  const tokenFile =
    (user.authProvider?.config?.tokenFile as string | undefined) ??
    (user.authProvider?.name === 'tokenFile' ? SERVICE_ACCOUNT_TOKEN : undefined);
  if (!tokenFile) return undefined;
  try {
    return fs.readFileSync(tokenFile, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * Who the Kubernetes API sees, for a 403 message: `the ServiceAccount ns/name` when the credentials are a
 * ServiceAccount token (in-cluster, or a token in KUBECONFIG), else `the current user` of the kubeconfig.
 * The token itself is never returned.
 */
export function describeIdentity(kubeConfig: KubeConfig): string {
  const token = tokenOf(kubeConfig);
  const subject = token ? jwtSubject(token) : undefined;
  const match = subject ? /^system:serviceaccount:([^:]+):([^:]+)$/.exec(subject) : null;
  if (match) return `the ServiceAccount ${match[1]}/${match[2]}`;
  const name = kubeConfig.getCurrentUser()?.name;
  return name ? `the current user (kubeconfig user ${JSON.stringify(name)})` : 'the current user';
}
