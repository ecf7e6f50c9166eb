import { describe, expect, test } from 'bun:test';
import { EventWrite, StatusWrite, type WriteSink, statusPatch } from '../../src/kube/queued.ts';
import { ANNOTATION_POOL, ANNOTATION_SERVING, type Service } from '../../src/kube/objects.ts';
import { createLogger } from '../../src/log.ts';

const svc: Service = {
  metadata: { name: 'web', namespace: 'shop', uid: 'u1', resourceVersion: '41' },
  spec: { type: 'LoadBalancer' },
} as Service;

function sink(fail?: Error): WriteSink & { calls: { verb: string; path: string; body: unknown }[]; logged: string[] } {
  const calls: { verb: string; path: string; body: unknown }[] = [];
  const logged: string[] = [];
  const act = async (verb: string, path: string, body: unknown) => {
    calls.push({ verb, path, body });
    if (fail) throw fail;
    return undefined as never;
  };
  return {
    calls, logged,
    client: { patch: (path: string, body: unknown) => act('patch', path, body), create: (path: string, body: unknown) => act('create', path, body) } as WriteSink['client'],
    log: createLogger({ level: 'warn', format: 'json' }, (line) => logged.push(line)),
    written: new Map(),
    counts: { statusWrites: 0 },
  };
}

describe('statusPatch', () => {
  test('only what changed, against the version decided on; removals are null', () => {
    expect(statusPatch(svc, { ips: ['192.0.2.1'] })).toEqual({
      metadata: { resourceVersion: '41' }, status: { loadBalancer: { ingress: [{ ip: '192.0.2.1', ipMode: 'VIP' }] } },
    });
    expect(statusPatch(svc, { pool: null, serving: null })).toEqual({
      metadata: { resourceVersion: '41', labels: { [ANNOTATION_POOL]: null }, annotations: { [ANNOTATION_SERVING]: null } },
    });
    const conditions = [{ type: 'x', status: 'True' }] as NonNullable<NonNullable<Service['status']>['conditions']>;
    expect(statusPatch(svc, { ips: [], pool: 'eip-a', conditions })).toEqual({
      metadata: { resourceVersion: '41', labels: { [ANNOTATION_POOL]: 'eip-a' } }, status: { loadBalancer: { ingress: [] }, conditions },
    });
  });
});

describe('queued writes', () => {
  test('a status write patches the status subresource and records what it wrote against which version', async () => {
    const s = sink();
    const w = new StatusWrite('service:shop/web', '192.0.2.1|eip-a||', s, svc, { ips: ['192.0.2.1'], pool: 'eip-a' });
    await w.run();
    expect(s.calls).toEqual([{ verb: 'patch', path: '/api/v1/namespaces/shop/services/web/status', body: statusPatch(svc, { ips: ['192.0.2.1'], pool: 'eip-a' }) }]);
    expect(s.written.get('service:shop/web')).toEqual({ baseRV: '41', fingerprint: '192.0.2.1|eip-a||' });
    expect(s.counts.statusWrites).toBe(1);
  });

  test('an Event carries the time it was decided, not the time the queue let it out; low priority', async () => {
    const s = sink();
    const at = Date.parse('2026-12-07T10:00:00Z');
    const w = new EventWrite('event:7', s, { kind: 'Service', svc, reason: 'AssignIP' }, 'assigned 192.0.2.1 from pool eip-a', at);
    expect(w.priority).toBe('low');
    expect(w.fingerprint).toBe('event:7');
    await w.run();
    const body = s.calls[0]!.body as { involvedObject: { name: string; resourceVersion: string }; firstTimestamp: string; message: string; reason: string };
    expect(s.calls[0]!.path).toBe('/api/v1/namespaces/shop/events');
    expect(body.firstTimestamp).toBe('2026-12-07T10:00:00.000Z');
    expect(body.involvedObject).toMatchObject({ name: 'web', resourceVersion: '41' });
    expect([body.reason, body.message]).toEqual(['AssignIP', 'assigned 192.0.2.1 from pool eip-a']);
  });

  test('a queued Event holds a reference to its object, not the object (a superseded version must not stay alive behind it)', () => {
    const s = sink();
    const big = { ...svc, spec: { type: 'LoadBalancer', ports: [{ port: 80 }] }, status: { loadBalancer: {} } } as Service;
    const w = new EventWrite('event:9', s, { kind: 'Service', svc: big, reason: 'AssignIP' }, 'assigned', 0);
    // Everything the write reaches, except the shared sink, must not include the Service or its parts.
    const reached = new Set<unknown>();
    const walk = (v: unknown) => {
      if (v === null || typeof v !== 'object' || reached.has(v) || v === s) return;
      reached.add(v);
      for (const k of Object.keys(v)) walk((v as Record<string, unknown>)[k]);
    };
    walk(w);
    for (const part of [big, big.metadata, big.spec, big.status]) expect(reached.has(part)).toBe(false);
    expect([...reached].some((o) => (o as { uid?: string }).uid === 'u1')).toBe(true);
  });

  test('an Event that fails is logged, not thrown (nothing retries a courtesy)', async () => {
    const s = sink(new Error('connection reset'));
    await new EventWrite('event:8', s, { kind: 'Eip', eip: { metadata: { name: 'eip-a', uid: 'e1', resourceVersion: '3' } } as never, reason: 'PoolUnusable' }, 'no usable address', 0).run();
    expect(s.logged.join('\n')).toContain('event not recorded');
    expect(s.logged.join('\n')).toContain('connection reset');
  });
});
