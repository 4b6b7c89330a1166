// @ts-check
// The e2e node's cluster DNS, standing in for CoreDNS: runs inside the node's network namespace behind the
// kube-dns Service (kubelet's clusterDNS) and answers `<service>.<namespace>.svc.<domain>` with the Service's
// ClusterIP, from a watch on the API server. Nothing else resolves (NXDOMAIN, never forwarded upstream): pods
// can name Services, not the world. A names for ClusterIP Services only; AAAA queries for a known name get an
// empty answer, so resolvers move on to the A record.
//
// Usage (inside the namespace): node dns-server.mjs <listen ip> <api server URL> <CA file> <token file> <domain>
// Prints `ready` once it has listed the Services and listens on UDP and TCP port 53.
import dgram from 'node:dgram';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import dnsPacket from 'dns-packet';

const [listen, apiServer, caFile, tokenFile, domain] = process.argv.slice(2);
if (!listen || !apiServer || !caFile || !tokenFile || !domain) {
  console.error('usage: dns-server.mjs <listen ip> <api server URL> <CA file> <token file> <domain>');
  process.exit(2);
}
const ca = fs.readFileSync(caFile);
const token = fs.readFileSync(tokenFile, 'utf8').trim();
const suffix = `.svc.${domain}`;
const TTL = 5;

/** @type {Map<string, string>} `<name>.<namespace>` -> ClusterIP */
const services = new Map();

/** @param {any} svc */
function key(svc) {
  return `${svc.metadata.name}.${svc.metadata.namespace}`;
}

/** @param {any} svc */
function remember(svc) {
  const ip = svc.spec?.clusterIP;
  if (ip && ip !== 'None') services.set(key(svc), ip);
  else services.delete(key(svc));
}

/** @param {string} path @param {(res: import('node:http').IncomingMessage) => void} onResponse */
function apiGet(path, onResponse) {
  const req = https.get(
    new URL(path, apiServer),
    { ca, headers: { authorization: `Bearer ${token}` } },
    onResponse,
  );
  req.on('error', () => setTimeout(sync, 1_000));
  return req;
}

/** Lists every Service, then watches from that version; starts over on any error or end. */
function sync() {
  apiGet('/api/v1/services', (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (chunk) => (body += chunk));
    res.on('end', () => {
      if (res.statusCode !== 200) return void setTimeout(sync, 1_000);
      const list = JSON.parse(body);
      services.clear();
      for (const svc of list.items) remember(svc);
      listening.then(() => announce());
      watch(list.metadata.resourceVersion);
    });
  });
}

/** @param {string} resourceVersion */
function watch(resourceVersion) {
  apiGet(`/api/v1/services?watch=1&allowWatchBookmarks=false&resourceVersion=${resourceVersion}`, (res) => {
    if (res.statusCode !== 200) {
      res.resume();
      return void setTimeout(sync, 1_000);
    }
    let buffered = '';
    res.setEncoding('utf8');
    res.on('data', (chunk) => {
      buffered += chunk;
      for (let end = buffered.indexOf('\n'); end !== -1; end = buffered.indexOf('\n')) {
        const event = JSON.parse(buffered.slice(0, end));
        buffered = buffered.slice(end + 1);
        if (event.type === 'ADDED' || event.type === 'MODIFIED') remember(event.object);
        else if (event.type === 'DELETED') services.delete(key(event.object));
        else if (event.type === 'ERROR') return void res.destroy();
      }
    });
    res.on('close', () => setTimeout(sync, 200));
  });
}

/** @param {Buffer} query @returns {Buffer} */
function answer(query) {
  const request = dnsPacket.decode(query);
  const question = request.questions?.[0];
  const response = {
    type: /** @type {const} */ ('response'),
    id: request.id,
    flags: dnsPacket.AUTHORITATIVE_ANSWER | ((request.flags ?? 0) & dnsPacket.RECURSION_DESIRED),
    questions: request.questions,
    /** @type {dnsPacket.Answer[]} */
    answers: [],
    rcode: 'NXDOMAIN',
  };
  const name = question?.name.toLowerCase().replace(/\.$/, '') ?? '';
  const ip = name.endsWith(suffix) ? services.get(name.slice(0, -suffix.length)) : undefined;
  if (question && ip) {
    response.rcode = 'NOERROR';
    if (question.type === 'A') response.answers.push({ type: 'A', name: question.name, ttl: TTL, data: ip });
  }
  return dnsPacket.encode(/** @type {any} */ (response));
}

const udp = dgram.createSocket('udp4');
udp.on('message', (message, peer) => {
  try {
    udp.send(answer(message), peer.port, peer.address);
  } catch {
    // not a DNS query
  }
});
const tcp = net.createServer((socket) => {
  let buffered = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
      const length = buffered.readUInt16BE(0);
      try {
        const reply = answer(buffered.subarray(2, 2 + length));
        const framed = Buffer.alloc(2 + reply.length);
        framed.writeUInt16BE(reply.length, 0);
        reply.copy(framed, 2);
        socket.write(framed);
      } catch {
        return void socket.destroy();
      }
      buffered = buffered.subarray(2 + length);
    }
  });
  socket.on('error', () => undefined);
});
const listening = Promise.all([
  new Promise((resolve) => udp.bind(53, listen, () => resolve(undefined))),
  new Promise((resolve) => tcp.listen(53, listen, () => resolve(undefined))),
]);
let announced = false;
function announce() {
  if (announced) return;
  announced = true;
  process.stdout.write('ready\n');
}
sync();
const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
