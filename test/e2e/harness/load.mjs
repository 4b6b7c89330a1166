// @ts-check
// Steady load from inside the e2e node's network namespace, so it goes through a Service's ClusterIP as a client in
// the cluster's network would (kube-proxy's rules pick the endpoint). Each request is a new connection: what is
// measured is whether the Service routes every request to a pod that answers, not keep-alive races.
//
// Usage (inside the namespace): node load.mjs <json options>
//   {url, headers?, rate (requests per second), maxSeconds (a bound: it stops by itself), timeoutMs?}
// Prints `ready`, sends until it gets the IPC message 'stop' (or maxSeconds pass), then replies with
// {sent, ok, failed, statuses: {<status>: n}, errors: {<code>: n}, firstFailures: [...]}.
import http from 'node:http';

const options = JSON.parse(process.argv[2] ?? '{}');
const url = new URL(options.url);
const intervalMs = 1000 / (options.rate ?? 20);
const timeoutMs = options.timeoutMs ?? 10_000;
const summary = {
  sent: 0,
  ok: 0,
  failed: 0,
  /** @type {Record<string, number>} */ statuses: {},
  /** @type {Record<string, number>} */ errors: {},
  /** @type {string[]} */ firstFailures: [],
};
let inFlight = 0;
let stopped = false;

/** @param {string} what */
function fail(what) {
  summary.failed++;
  if (summary.firstFailures.length < 20) summary.firstFailures.push(`${new Date().toISOString()} ${what}`);
}

function send() {
  summary.sent++;
  inFlight++;
  const req = http.get(
    {
      host: url.hostname,
      port: url.port,
      path: url.pathname + url.search,
      headers: options.headers,
      agent: false,
      timeout: timeoutMs,
    },
    (res) => {
      res.resume();
      res.on('end', () => {
        inFlight--;
        summary.statuses[res.statusCode ?? 0] = (summary.statuses[res.statusCode ?? 0] ?? 0) + 1;
        if (res.statusCode === 200) summary.ok++;
        else fail(`HTTP ${res.statusCode}`);
      });
    },
  );
  req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
  req.on('error', (/** @type {NodeJS.ErrnoException} */ error) => {
    inFlight--;
    const code = error.code ?? error.message;
    summary.errors[code] = (summary.errors[code] ?? 0) + 1;
    fail(code);
  });
}

const timer = setInterval(send, intervalMs);
const bound = setTimeout(() => void finish(), (options.maxSeconds ?? 300) * 1000);

async function finish() {
  if (stopped) return;
  stopped = true;
  clearInterval(timer);
  clearTimeout(bound);
  while (inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 20));
  if (process.send) process.send(summary, () => process.exit(0));
  else process.exit(0);
}
process.on('message', (message) => {
  if (message === 'stop') void finish();
});
process.on('disconnect', () => process.exit(0));
process.stdout.write('ready\n');
