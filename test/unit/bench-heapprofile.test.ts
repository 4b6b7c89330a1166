import { formatAllocations, summariseAllocations } from '../../bench/lib/heapprofile.mjs';

type Frame = { functionName: string; url: string; lineNumber: number; columnNumber: number };
type HeapNode = { callFrame: Frame; selfSize: number; children?: HeapNode[] };

const frame = (functionName: string, url: string, lineNumber = 0): Frame => ({
  functionName,
  url,
  lineNumber,
  columnNumber: 0,
});
const node = (callFrame: Frame, selfSize: number, children: HeapNode[] = []): HeapNode => ({
  callFrame,
  selfSize,
  children,
});

// (root) → forward (own) → forward again (recursion) → a router function; a Node.js function beside it.
const OWN = '/work/repo/app/api/routing/routing-service.ts';
const ROUTER = '/work/repo/node_modules/router/index.js';
const profile = {
  head: node(frame('(root)', ''), 0, [
    node(frame('forward', OWN, 123), 100, [
      node(frame('forward', OWN, 123), 50, [node(frame('next', ROUTER, 188), 400)]),
    ]),
    node(frame('writeHead', 'node:_http_server', 340), 250),
  ]),
};

describe('bench allocation profiles (bench/lib/heapprofile.mjs)', () => {
  it('adds up the bytes by function and package, and charges the own code once per stack', () => {
    const summary = summariseAllocations(profile);
    expect(summary.total).toBe(800);
    expect(summary.byFunction).toEqual([
      { name: 'next (router/index.js:189)', bytes: 400 },
      { name: 'writeHead (node:_http_server:341)', bytes: 250 },
      { name: 'forward (app/api/routing/routing-service.ts:124)', bytes: 150 },
      { name: '(root)', bytes: 0 },
    ]);
    expect(summary.byModule.map((r) => [r.name, r.bytes])).toEqual([
      ['router', 400],
      ['node:http_server', 250],
      ['app/api/routing', 150],
      ['(root)', 0],
    ]);
    // The recursion is counted once: forward's own 150 bytes and the router's 400 under it.
    expect(summary.ownInclusive).toEqual([
      { name: 'forward (app/api/routing/routing-service.ts:124)', bytes: 550 },
    ]);
  });

  it('writes bytes per request', () => {
    const text = formatAllocations(profile, { requests: 2, title: 'two requests' });
    expect(text).toContain('## two requests');
    expect(text).toContain('over 2 requests: 400 bytes per request.');
    expect(text).toContain('| 50 | 200 | next (router/index.js:189) |');
  });
});
