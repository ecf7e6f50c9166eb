import { beforeEach, describe, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiError, createApi } from '../../src/api/app.ts';
import { Announcer } from '../../src/announce/announcer.ts';
import { VipStore } from '../../src/standalone/store.ts';
import { createLogger } from '../../src/log.ts';
import type { LinkSpec } from '../../src/link/protocol.ts';
import { tempDir } from '../support/tmp.ts';

const TOKEN = 's3cret-token';
const timing = { gratuitousCount: 1, gratuitousInterval: 10, refreshInterval: 0, confirmInterval: 0, probeCount: 0, probeInterval: 10, probeWait: 10 };

function setup(opts: { token?: string; statePath?: string } = {}) {
  const statePath = opts.statePath ?? join(tempDir('l2lb-api-'), 'state.json');
  const store = new VipStore([{ ip: '192.0.2.10' }], statePath);
  store.load();
  const links: LinkSpec[][] = [];
  const announcer = new Announcer(timing, ['eth0'], { setLinks: (l) => links.push(l), send: () => {} }, createLogger({ level: 'error', format: 'json' }, () => {}));
  announcer.setInterface('eth0', { name: 'eth0', index: 2, mac: '02:00:00:00:00:01', mtu: 1500, up: true, running: true, addresses: [] });
  announcer.setSocket('eth0', true);
  announcer.setVips(store.effective());
  const mutate = <T>(fn: () => T): T => {
    let r: T;
    try {
      r = fn();
    } catch (err) {
      throw new ApiError(503, 'state-file', (err as Error).message);
    }
    announcer.setVips(store.effective());
    return r;
  };
  const app = createApi({
    token: 'token' in opts ? opts.token : TOKEN,
    status: () => ({ ok: true }),
    ready: () => ({ ready: true, reasons: [] }),
    metrics: () => 'l2lb_up 1\n',
    vips: {
      list: () => announcer.list(),
      get: (ip) => announcer.get(ip),
      put: (ip, body) => mutate(() => store.put(ip, body)),
      delete: (ip) => mutate(() => store.delete(ip)),
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
