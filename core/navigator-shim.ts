/**
 * Node 21 and later define `globalThis.navigator`; Node 20 does not. Without it, pg (lib/stream.js, at load time)
 * probes for Cloudflare Workers by constructing a `Response`, which loads Node's whole fetch implementation: about
 * 10 ms of every start-up, for nothing. This defines the same minimal `navigator` Node 22 has, before pg loads.
 * Import it first.
 */
if (!('navigator' in globalThis)) {
  Object.defineProperty(globalThis, 'navigator', {
    value: Object.freeze({ userAgent: `Node.js/${process.versions.node.split('.')[0]}` }),
    configurable: true,
    enumerable: false,
    writable: true,
  });
}

export {};
