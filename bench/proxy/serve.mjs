// @ts-check
// How each process of the proxy benchmark (the upstream, the floors) serves: keep-alive connections held longer than
// any client's, on 127.0.0.1:PORT (0: any), {"port"} printed once listening, and a clean exit on SIGTERM so that a
// run with --cpu-prof writes its profile.
/** @param {import('node:http').Server} server */
export function serve(server) {
  server.keepAliveTimeout = 65_000;
  server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
    const address = /** @type {import('node:net').AddressInfo} */ (server.address());
    process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
  });
  process.once('SIGTERM', () => server.close(() => process.exit(0)).closeAllConnections());
}
