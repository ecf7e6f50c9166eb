import { describe, expect, test } from 'bun:test';
import { recordedNode, servingNodes } from '../../src/kube/serving-record.ts';
import { ANNOTATION_SERVING, type Service } from '../../src/kube/objects.ts';

function svc(record?: string): Service {
  return {
    metadata: { name: 'web', namespace: 'shop', uid: 'u1', resourceVersion: '1', ...(record === undefined ? {} : { annotations: { [ANNOTATION_SERVING]: record } }) },
    spec: { type: 'LoadBalancer' },
  } as Service;
}

describe('the serving record', () => {
  test('reads each address of the record', () => {
    const s = svc('192.0.2.10=node-a,2001:db8::10=node-b');
    expect(recordedNode(s, '192.0.2.10')).toBe('node-a');
    expect(recordedNode(s, '2001:db8::10')).toBe('node-b');
    expect(recordedNode(s, '192.0.2.11')).toBeUndefined();
    expect(recordedNode(svc(), '192.0.2.10')).toBeUndefined();
    expect(recordedNode(svc(''), '192.0.2.10')).toBeUndefined();
  });

  test('an address that is the start of another is not it', () => {
    expect(recordedNode(svc('192.0.2.100=node-a'), '192.0.2.10')).toBeUndefined();
    expect(recordedNode(svc('2001:db8::1:2=node-a,2001:db8::1=node-b'), '2001:db8::1')).toBe('node-b');
  });

  // The reader without a Map must say what the Map says, for every record a person or an old writer may leave.
  test('says what servingNodes says, for records as written and as edited by hand', () => {
    const records = [
      '192.0.2.10=node-a',
      '192.0.2.10=node-a,192.0.2.10=node-b',
      '192.0.2.10=',
      '192.0.2.10',
      '=node-a,192.0.2.10=node-c',
      '192.0.2.10=node=a',
      ',,192.0.2.10=node-a,,',
      ' 192.0.2.10 = node-a , 2001:db8::10=node-b',
      '192.0.2.10=node-a\t',
      '2001:db8::10=node-b,192.0.2.1=node-c,192.0.2.10=node-d',
      'garbage',
    ];
    const ips = ['192.0.2.10', '192.0.2.1', '2001:db8::10', '2001:db8::1', 'node-a'];
    for (const r of records) {
      for (const ip of ips) expect({ r, ip, got: recordedNode(svc(r), ip) }).toEqual({ r, ip, got: servingNodes(svc(r)).get(ip) });
    }
  });

  test('random records agree with servingNodes', () => {
    const parts = ['192.0.2.1', '192.0.2.10', '=', ',', 'node-a', 'node-b', ' ', '2001:db8::1'];
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % parts.length;
    for (let i = 0; i < 5000; i++) {
      let r = '';
      const n = 1 + (i % 12);
      for (let k = 0; k < n; k++) r += parts[next()];
      for (const ip of ['192.0.2.1', '192.0.2.10', '2001:db8::1']) {
        expect({ r, ip, got: recordedNode(svc(r), ip) }).toEqual({ r, ip, got: servingNodes(svc(r)).get(ip) });
      }
    }
  });
});
