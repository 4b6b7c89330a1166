/**
 * The parts of @kubernetes/client-node that modelgate-init uses, imported by name and loaded on demand (an
 * `import()` of this module). Named imports let the bundler keep only these and what they need: about half of the
 * client, which is most of modelgate-init's start-up cost when it talks to the API server.
 */
export { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
