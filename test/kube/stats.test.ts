/** What counts as a failed API request, under which resource and reason. */
import { describe, expect, test } from 'bun:test';
import { KubeStats, errorFailure, resourceOf, statusFailure } from '../../src/kube/stats.ts';

describe('resourceOf', () => {
  test('names the resource and subresource of core, grouped, namespaced and cluster-scoped paths', () => {
    expect(resourceOf('/api/v1/services')).toBe('services');
    expect(resourceOf('/api/v1/namespaces/default/services/web/status')).toBe('services/status');
    expect(resourceOf('/api/v1/namespaces/default/services/web')).toBe('services');
    expect(resourceOf('/apis/coordination.k8s.io/v1/namespaces/l2lb-system/leases/l2lb')).toBe('leases');
    expect(resourceOf('/apis/network.kubesphere.io/v1alpha2/eips/lan/status')).toBe('eips/status');
    expect(resourceOf('/apis/discovery.k8s.io/v1/endpointslices?watch=true&resourceVersion=5')).toBe('endpointslices');
    expect(resourceOf('/api/v1/namespaces/team-a/events')).toBe('events');
    expect(resourceOf('/api/v1/namespaces')).toBe('namespaces');
    expect(resourceOf('/api/v1/namespaces/team-a')).toBe('namespaces');
    expect(resourceOf('/api/v1/namespaces/team-a/status')).toBe('namespaces/status');
    expect(resourceOf('/version')).toBe('/version');
  });
});

describe('what is a failure', () => {
  test('statuses: 401, 403, 429, other 4xx and 5xx are; 2xx, 404, 409 and 410 are the protocol', () => {
    expect([401, 403, 429, 400, 422, 500, 503, 504].map(statusFailure)).toEqual(['401', '403', '429', '4xx', '4xx', '5xx', '5xx', '5xx']);
    expect([200, 201, 304, 404, 409, 410].map(statusFailure)).toEqual([undefined, undefined, undefined, undefined, undefined, undefined]);
  });

  test('thrown errors: a deadline is a timeout, the caller\'s abort is nothing, the rest is network', () => {
    expect(errorFailure(new DOMException('late', 'TimeoutError'))).toBe('timeout');
    expect(errorFailure(new DOMException('stop', 'AbortError'))).toBeUndefined();
    expect(errorFailure(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }))).toBe('network');
    expect(errorFailure(new TypeError('fetch failed'))).toBe('network');
  });
});

describe('KubeStats', () => {
  test('counts failures by resource and reason, retries with their last and total delay, watch ends', () => {
    const s = new KubeStats();
    s.failure('/api/v1/services', '429');
    s.failure('/api/v1/namespaces/a/services/x/status', '5xx');
    s.failure('/api/v1/services?watch=true', '429');
    expect([...s.failures].map(([r, m]) => [r, Object.fromEntries(m)])).toEqual([['services', { '429': 2 }], ['services/status', { '5xx': 1 }]]);
    s.retry('services', 120);
    s.retry('services', 350);
    expect(s.retries.get('services')).toEqual({ count: 2, lastDelayMs: 350, totalDelayMs: 470 });
    s.watchEnd('nodes', 'inactive');
    s.watchEnd('nodes', 'inactive');
    s.watchEnd('nodes', 'failed');
    expect(Object.fromEntries(s.watchEnds.get('nodes')!)).toEqual({ inactive: 2, failed: 1 });
  });
});
