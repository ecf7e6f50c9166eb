/**
 * The kube-proxy health check against a local HTTP server whose answer the test changes: 200 -> 503 -> 200,
 * an answer that never comes, a closed port; the thresholds, the reasons, one request at a time per address,
 * and nothing after stop().
 */
import { afterEach, describe, expect, test } from 'bun:test';
import { type Server, createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { waitFor } from '../support/netns.ts';
import {
  type ProxyChange,
  type ProxyCheckPolicy,
  PROXY_OK,
  ProxyCheckTracker,
  ProxyHealthChecker,
  describeCheckError,
  proxyHealthUrl,
} from '../../src/kube/proxyhealth.ts';

/** A kube-proxy stand-in: answers `status` on any path, or nothing at all when `status` is 'hang'. */
interface FakeProxy {
  port: number;
  status: number | 'hang';
  requests: string[];
  /** Connections open now, and the most open at once. */
  open: number;
  maxOpen: number;
  close(): Promise<void>;
}

const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function fakeProxy(host = '127.0.0.1'): Promise<FakeProxy> {
  const sockets = new Set<Socket>();
  const fake: FakeProxy = {
    port: 0, status: 200, requests: [], open: 0, maxOpen: 0,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
  const server: Server = createServer((req, res) => {
    fake.requests.push(req.url ?? '');
    if (fake.status === 'hang') return;
    res.writeHead(fake.status, { 'content-type': 'application/json', ...(fake.status === 302 ? { location: 'http://127.0.0.1:9/' } : {}) });
    res.end('{"lastUpdated":"","currentTime":""}');
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    fake.open++;
    fake.maxOpen = Math.max(fake.maxOpen, fake.open);
    s.on('close', () => {
      sockets.delete(s);
      fake.open--;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, () => resolve()));
  fake.port = (server.address() as AddressInfo).port;
  cleanups.push(() => fake.close());
  return fake;
}

/** A port nothing listens on (bound, then closed again). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

function checker(policy: Partial<ProxyCheckPolicy> & { port: number }): { c: ProxyHealthChecker; changes: ProxyChange[] } {
  const changes: ProxyChange[] = [];
  const c = new ProxyHealthChecker({ path: '/healthz', intervalMs: 40, timeoutMs: 150, failures: 3, successes: 2, ...policy }, (ch) => changes.push(...ch));
  cleanups.push(() => c.stop());
  return { c, changes };
}

/** The state changes only, as "before>after (result)". */
function transitions(changes: ProxyChange[]): string[] {
  return changes.filter((x) => x.state !== x.before).map((x) => `${x.before}>${x.state} (${x.result})`);
}

describe('ProxyCheckTracker (pure counting)', () => {
  test('the first hit settles a fresh address; failures misses in a row fail it; successes hits bring it back', () => {
    const t = new ProxyCheckTracker({ failures: 3, successes: 2 });
    expect(t.setTargets(['192.0.2.11'], 0)).toEqual(['192.0.2.11']);
    expect(t.record('192.0.2.11', true, PROXY_OK, 10)).toMatchObject({ state: 'up', before: 'unknown', since: 10 });
    expect(t.record('192.0.2.11', true, PROXY_OK, 20)).toBeUndefined(); // nothing new
    expect(t.record('192.0.2.11', false, 'HTTP 503', 30)).toMatchObject({ state: 'up', before: 'up', result: 'HTTP 503', misses: 1 });
    expect(t.record('192.0.2.11', false, 'HTTP 503', 40)).toBeUndefined();
    expect(t.record('192.0.2.11', false, 'connection refused', 50)).toMatchObject({ state: 'down', before: 'up', result: 'connection refused', misses: 3, since: 50 });
    expect(t.record('192.0.2.11', true, PROXY_OK, 60)).toMatchObject({ state: 'down', before: 'down', misses: 0 });
    expect(t.record('192.0.2.11', false, 'HTTP 503', 70)?.state).toBe('down'); // a miss resets the run of hits
    expect(t.record('192.0.2.11', true, PROXY_OK, 80)?.state).toBe('down');
    expect(t.record('192.0.2.11', true, PROXY_OK, 90)).toMatchObject({ state: 'up', before: 'down', since: 90 });
    expect(t.get('192.0.2.11')).toMatchObject({ state: 'up', since: 90, result: PROXY_OK, ok: true, at: 90 });
  });

  test('a fresh address that only misses stays unknown until failures misses; kept addresses keep their state', () => {
    const t = new ProxyCheckTracker({ failures: 2, successes: 1 });
    t.setTargets(['192.0.2.11', '192.0.2.12'], 0);
    expect(t.record('192.0.2.11', false, 'timed out after 500 ms', 1)).toMatchObject({ state: 'unknown', before: 'unknown' });
    expect(t.record('192.0.2.11', false, 'timed out after 500 ms', 2)).toMatchObject({ state: 'down', before: 'unknown' });
    expect(t.setTargets(['192.0.2.11', '192.0.2.13'], 3)).toEqual(['192.0.2.13']);
    expect(t.list().map((c) => [c.ip, c.state])).toEqual([['192.0.2.11', 'down'], ['192.0.2.13', 'unknown']]);
    expect(t.record('192.0.2.12', true, PROXY_OK, 4)).toBeUndefined(); // no longer checked
  });
});

describe('helpers', () => {
  test('IPv6 addresses go in brackets', () => {
    expect(proxyHealthUrl('192.0.2.11', 10256, '/healthz')).toBe('http://192.0.2.11:10256/healthz');
    expect(proxyHealthUrl('2001:db8::11', 10256, '/healthz')).toBe('http://[2001:db8::11]:10256/healthz');
  });

  test('errors of both runtimes read the same', () => {
    expect(describeCheckError(new DOMException('The operation timed out.', 'TimeoutError'), 500)).toBe('timed out after 500 ms');
    // Bun: a code; Deno: a cause with the OS message.
    expect(describeCheckError(Object.assign(new TypeError('ECONNREFUSED: Unable to connect.'), { code: 'ECONNREFUSED' }), 500)).toBe('connection refused');
    const deno = new TypeError('fetch failed', { cause: new Error('error sending request for url (http://192.0.2.11:10256/healthz): client error (Connect): tcp connect error: Connection refused (os error 111)') });
    expect(describeCheckError(deno, 500)).toBe('connection refused');
    expect(describeCheckError(Object.assign(new TypeError('x'), { code: 'EHOSTUNREACH' }), 500)).toBe('host unreachable');
    expect(describeCheckError(new TypeError('something else'), 500)).toBe('something else');
  });
});

describe('ProxyHealthChecker (HTTP)', () => {
  test('200 -> up; 503 -> down after 3 checks, saying HTTP 503; 200 -> up after 2', async () => {
    const fake = await fakeProxy();
    const { c, changes } = checker({ port: fake.port });
    const t0 = Date.now();
    c.setTargets(['127.0.0.1']);
    await waitFor('up', () => c.get('127.0.0.1')?.state === 'up', 3000, 5);
    expect(fake.requests[0]).toBe('/healthz');
    fake.status = 503;
    await waitFor('down', () => c.get('127.0.0.1')?.state === 'down', 3000, 5);
    expect(c.get('127.0.0.1')).toMatchObject({ result: 'HTTP 503', ok: false, misses: 3 });
    fake.status = 200;
    await waitFor('up again', () => c.get('127.0.0.1')?.state === 'up', 3000, 5);
    expect(transitions(changes)).toEqual(['unknown>up (HTTP 200)', 'up>down (HTTP 503)', 'down>up (HTTP 200)']);
    // The first 503 was reported as news while still up; repeats of one result were not.
    expect(changes.map((x) => `${x.state}:${x.result}`)).toEqual(['up:HTTP 200', 'up:HTTP 503', 'down:HTTP 503', 'down:HTTP 200', 'up:HTTP 200']);
    expect(c.counts.failed).toBeGreaterThanOrEqual(3);
    // Checks are spaced by the interval (40 ms), not run back to back.
    expect(fake.requests.length).toBeLessThanOrEqual(Math.ceil((Date.now() - t0) / 40) + 1);
  });

  test('another status and a redirect (not followed) are misses named by their status', async () => {
    const fake = await fakeProxy();
    fake.status = 302;
    const { c } = checker({ port: fake.port, failures: 1 });
    c.setTargets(['127.0.0.1']);
    await waitFor('down', () => c.get('127.0.0.1')?.state === 'down', 3000, 5);
    expect(c.get('127.0.0.1')!.result).toBe('HTTP 302');
  });

  test('an answer that never comes times out; one request at a time, no pile-up', async () => {
    const fake = await fakeProxy();
    fake.status = 'hang';
    // The timeout is longer than the interval: a check still running must delay the next, not overlap it.
    const { c, changes } = checker({ port: fake.port, intervalMs: 20, timeoutMs: 120 });
    const t0 = Date.now();
    c.setTargets(['127.0.0.1']);
    await waitFor('down', () => c.get('127.0.0.1')?.state === 'down', 3000, 5);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(3 * 120 - 10);
    expect(c.get('127.0.0.1')!.result).toBe('timed out after 120 ms');
    expect(transitions(changes)).toEqual(['unknown>down (timed out after 120 ms)']);
    await Bun.sleep(150);
    expect(fake.maxOpen).toBe(1);
    fake.status = 200;
    await waitFor('up again', () => c.get('127.0.0.1')?.state === 'up', 3000, 5);
  });

  test('a closed port is "connection refused"', async () => {
    const port = await closedPort();
    const { c, changes } = checker({ port });
    c.setTargets(['127.0.0.1']);
    await waitFor('down', () => c.get('127.0.0.1')?.state === 'down', 3000, 5);
    expect(transitions(changes)).toEqual(['unknown>down (connection refused)']);
  });

  test('IPv6: the address is checked in brackets', async () => {
    let fake: FakeProxy;
    try {
      fake = await fakeProxy('::1');
    } catch (err) {
      console.warn(`SKIP IPv6 check: no ::1 here (${(err as Error).message})`);
      return;
    }
    const { c } = checker({ port: fake.port });
    c.setTargets(['::1']);
    await waitFor('up', () => c.get('::1')?.state === 'up', 3000, 5);
  });

  test('stop() and removing an address cancel their requests; nothing is reported afterwards', async () => {
    const fake = await fakeProxy();
    fake.status = 'hang';
    const { c, changes } = checker({ port: fake.port, timeoutMs: 5000 });
    c.setTargets(['127.0.0.1']);
    await waitFor('the request is open', () => fake.open === 1, 3000, 5);
    c.setTargets([]);
    await waitFor('the request is cancelled', () => fake.open === 0, 3000, 5);
    expect(c.list()).toEqual([]);
    c.setTargets(['127.0.0.1']);
    await waitFor('a new request is open', () => fake.open === 1, 3000, 5);
    c.stop();
    await waitFor('the request is cancelled', () => fake.open === 0, 3000, 5);
    const asked = fake.requests.length;
    fake.status = 200;
    c.setTargets(['127.0.0.1']); // stopped: ignored
    await Bun.sleep(150);
    expect(fake.requests.length).toBe(asked);
    expect(changes).toEqual([]);
  });
});
