import { beforeEach, describe, expect, test } from 'bun:test';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createApi } from '../../src/api/app.ts';
import { tempDir } from '../support/tmp.ts';
import { standaloneVips } from '../support/vip-api.ts';

const TOKEN = 's3cret-token';

function setup(opts: { token?: string; statePath?: string } = {}) {
  const statePath = opts.statePath ?? join(tempDir('l2lb-api-'), 'state.json');
  const { announcer, links, put, delete: remove } = standaloneVips([{ ip: '192.0.2.10' }], statePath);
  const app = createApi({
    token: 'token' in opts ? opts.token : TOKEN,
    status: () => ({ ok: true }),
    ready: () => ({ ready: true, reasons: [] }),
    metrics: () => 'l2lb_up 1\n',
    vips: {
      list: () => announcer.list(),
      get: (ip) => announcer.get(ip),
      put,
      delete: remove,
    },
  });
  const req = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    app.request(path, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
  const auth = { authorization: `Bearer ${TOKEN}` };
  return { app, req, auth, announcer, links, statePath };
}

let t: ReturnType<typeof setup>;
beforeEach(() => {
  t = setup();
});

describe('read routes', () => {
  test('healthz, readyz, metrics, status', async () => {
    expect((await t.req('GET', '/healthz')).status).toBe(200);
    const ready = await t.req('GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, reasons: [] });
    const m = await t.req('GET', '/metrics');
    expect(m.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    expect(await m.text()).toBe('l2lb_up 1\n');
    expect(await (await t.req('GET', '/v1/status')).json()).toEqual({ ok: true });
  });

  test('GET /v1/vips lists the config VIP, announced with the interface MAC', async () => {
    const body = (await (await t.req('GET', '/v1/vips')).json()) as { vips: Record<string, unknown>[] };
    expect(body.vips).toHaveLength(1);
    expect(body.vips[0]).toMatchObject({ ip: '192.0.2.10', interface: 'eth0', mac: '02:00:00:00:00:01', macSource: 'interface', source: 'config', state: 'active' });
  });

  test('unknown VIP is 404 JSON; bad address is 400', async () => {
    const r = await t.req('GET', '/v1/vips/192.0.2.99');
    expect(r.status).toBe(404);
    expect(await r.json()).toEqual({ error: 'not-found', detail: 'no VIP 192.0.2.99' });
    const bad = await t.req('GET', '/v1/vips/192.0.2.999');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: 'invalid-ip' });
  });

  test('unknown route is a JSON 404, wrong method a 405', async () => {
    expect((await t.req('GET', '/nope')).status).toBe(404);
    const r = await t.req('POST', '/v1/vips', {}, t.auth);
    expect(r.status).toBe(405);
    expect(((await r.json()) as { error: string }).error).toBe('method-not-allowed');
  });
});

describe('auth', () => {
  test('mutations need the bearer token', async () => {
    const none = await t.req('PUT', '/v1/vips/192.0.2.20', {});
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toContain('Bearer');
    expect(((await none.json()) as { detail: string }).detail).toContain('Authorization: Bearer');
    const wrong = await t.req('PUT', '/v1/vips/192.0.2.20', {}, { authorization: 'Bearer nope' });
    expect(wrong.status).toBe(401);
    const del = await t.req('DELETE', '/v1/vips/192.0.2.10');
    expect(del.status).toBe(401);
    expect(t.announcer.get('192.0.2.20')).toBeUndefined();
    expect(t.announcer.get('192.0.2.10')).toBeDefined();
  });

  test('reads need no token', async () => {
    expect((await t.req('GET', '/v1/vips')).status).toBe(200);
  });

  test('without a configured token, mutations are open', async () => {
    const open = setup({ token: undefined });
    expect((await open.req('PUT', '/v1/vips/192.0.2.20', {})).status).toBe(201);
  });
});

describe('PUT and DELETE', () => {
  test('create 201, update 200, canonical address, MAC normalized', async () => {
    const c = await t.req('PUT', '/v1/vips/2001:0DB8::0010', { mac: '02-AA-BB-CC-DD-EE' }, t.auth);
    expect(c.status).toBe(201);
    expect(await c.json()).toMatchObject({ ip: '2001:db8::10', mac: '02:aa:bb:cc:dd:ee', macSource: 'explicit', state: 'active', source: 'api' });
    const u = await t.req('PUT', '/v1/vips/2001:db8::10', { interface: 'eth0' }, t.auth);
    expect(u.status).toBe(200);
    expect(await u.json()).toMatchObject({ ip: '2001:db8::10', mac: '02:00:00:00:00:01', macSource: 'interface' });
    // the worker is told to answer for it
    const last = t.links.at(-1)!;
    expect(last.find((l) => l.name === 'eth0')!.vips.map((v) => v.ip).sort()).toEqual(['192.0.2.10', '2001:db8::10']);
  });

  test('an empty body is allowed', async () => {
    const r = await t.req('PUT', '/v1/vips/198.51.100.1', undefined, t.auth);
    expect(r.status).toBe(201);
  });

  test('DELETE 204 then 404, and the worker stops answering', async () => {
    expect((await t.req('DELETE', '/v1/vips/192.0.2.10', undefined, t.auth)).status).toBe(204);
    expect(t.links.at(-1)!.find((l) => l.name === 'eth0')!.vips).toEqual([]);
    expect((await t.req('DELETE', '/v1/vips/192.0.2.10', undefined, t.auth)).status).toBe(404);
  });

  test.each([
    [{ mac: 'nope' }, 400, 'mac must be a MAC address'],
    [{ mac: 'ff:ff:ff:ff:ff' }, 400, 'mac must be a MAC address'],
    [{ interface: 'a/b' }, 400, 'interface must be a Linux interface name'],
    [{ interface: 'x'.repeat(16) }, 400, 'interface must be a Linux interface name'],
    [{ interface: 7 }, 400, 'interface must be a string'],
    [{ color: 'red' }, 400, 'unknown key "color"'],
    ['{not json', 400, 'the body is not JSON'],
    ['[1,2]', 400, ''],
  ])('body %p is rejected with %i', async (body, status, detail) => {
    const r = await t.req('PUT', '/v1/vips/192.0.2.30', body, t.auth);
    expect(r.status).toBe(status);
    const j = (await r.json()) as { error: string; detail: string };
    expect(j.detail).toContain(detail);
    expect(t.announcer.get('192.0.2.30')).toBeUndefined();
  });

  test('wrong content type is 415', async () => {
    const r = await t.req('PUT', '/v1/vips/192.0.2.30', 'mac=1', { ...t.auth, 'content-type': 'application/x-www-form-urlencoded' });
    expect(r.status).toBe(415);
  });

  test('an unusable state file makes mutations 503 and changes nothing', async () => {
    const dir = tempDir('l2lb-api-');
    const statePath = join(dir, 'state.json');
    writeFileSync(statePath, 'garbage');
    const b = setup({ statePath });
    const r = await b.req('PUT', '/v1/vips/192.0.2.40', {}, b.auth);
    expect(r.status).toBe(503);
    expect(((await r.json()) as { detail: string }).detail).toContain(statePath);
    expect(b.announcer.get('192.0.2.40')).toBeUndefined();
  });
});

describe('the API under abuse', () => {
  test('a body over the limit is 413 before it is read (Content-Length), and while streaming without one', async () => {
    const big = await t.req('PUT', '/v1/vips/192.0.2.31', JSON.stringify({ interface: 'eth0', pad: 'x'.repeat(5000) }), t.auth);
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ error: 'body-too-large' });
    // A chunked body with no length: counted as it arrives.
    let sent = 0;
    const stream = new ReadableStream({
      pull(controller) {
        if (sent > 1_000_000) return controller.close();
        sent += 1024;
        controller.enqueue(new Uint8Array(1024).fill(32));
      },
    });
    const r = await t.app.request('/v1/vips/192.0.2.31', { method: 'PUT', headers: { ...t.auth, 'content-type': 'application/json' }, body: stream, duplex: 'half' } as RequestInit);
    expect(r.status).toBe(413);
    expect(sent).toBeLessThan(100_000);
    expect(t.announcer.get('192.0.2.31')).toBeUndefined();
  });

  test('HEAD answers like GET without a body; OPTIONS lists the methods; other methods are 405 with Allow', async () => {
    const head = await t.req('HEAD', '/v1/vips');
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    const opt = await t.req('OPTIONS', '/v1/vips/192.0.2.10');
    expect([opt.status, opt.headers.get('allow')]).toEqual([204, 'GET, HEAD, PUT, DELETE, OPTIONS']);
    expect((await t.req('OPTIONS', '/healthz')).headers.get('allow')).toBe('GET, HEAD, OPTIONS');
    for (const [method, path] of [['PATCH', '/v1/vips/192.0.2.10'], ['POST', '/v1/status'], ['DELETE', '/metrics'], ['PROPFIND', '/v1/vips']]) {
      const r = await t.req(method!, path!);
      expect([method, path, r.status, r.headers.get('content-type')?.startsWith('application/json')]).toEqual([method, path, 405, true]);
      expect(r.headers.get('allow')).toContain('GET');
    }
    expect((await t.req('OPTIONS', '/nowhere')).status).toBe(404);
  });

  test('an unexpected error is a plain 500: no message, stack or path of the host; the log has it', async () => {
    const logged: unknown[] = [];
    const app = createApi({
      status: () => {
        throw new Error("ENOENT: no such file or directory, open '/var/lib/l2lb/secret'");
      },
      ready: () => ({ ready: true, reasons: [] }), metrics: () => '', vips: { list: () => [], get: () => undefined },
      logError: (m, f) => logged.push([m, f]),
    });
    const r = await app.request('/v1/status');
    expect(r.status).toBe(500);
    const text = await r.text();
    expect(JSON.parse(text)).toEqual({ error: 'internal', detail: 'internal error: the l2lb log has the details' });
    expect(text).not.toContain('/var/lib');
    expect(logged).toHaveLength(1);
  });

  test('a long or badly encoded path is refused with a short message', async () => {
    const r = await t.req('GET', `/v1/vips/${'9'.repeat(10_000)}`);
    expect(r.status).toBe(400);
    expect((await r.text()).length).toBeLessThan(400);
    expect((await t.req('GET', '/v1/vips/%E0%A4%A')).status).toBe(400);
  });

  test('1,000 concurrent PUTs and DELETEs leave the state file and the VIP table equal', async () => {
    const ips = Array.from({ length: 50 }, (_, i) => `198.51.100.${i + 1}`);
    const ops = Array.from({ length: 1000 }, (_, i) => {
      const ip = ips[(i * 7919) % ips.length]!;
      return i % 3 === 2 ? t.req('DELETE', `/v1/vips/${ip}`, undefined, t.auth) : t.req('PUT', `/v1/vips/${ip}`, { interface: 'eth0' }, t.auth);
    });
    const statuses = (await Promise.all(ops)).map((r) => r.status);
    expect(statuses.every((s) => [200, 201, 204, 404].includes(s))).toBe(true);
    const onDisk = JSON.parse(readFileSync(t.statePath, 'utf8')) as { vips: Record<string, unknown> };
    const table = t.announcer.list().map((v) => v.ip).filter((ip) => ip.startsWith('198.51.100.'));
    expect(Object.keys(onDisk.vips).sort()).toEqual(table.sort());
  });
});
