import { expect, test } from 'bun:test';
import { indexNodes } from '../../src/kube/node-index.ts';
import { wireIdentity } from '../../src/announce/membership.ts';
import type { Node } from '../../src/kube/objects.ts';

const node = (name: string, addresses: { type: string; address: string }[]): Node =>
  ({ metadata: { name }, status: { addresses, conditions: [{ type: 'Ready', status: 'True' }] } }) as Node;

test('a probed address names its node by InternalIP only; a peer names its node by wire identity, long names hashed as on the wire', () => {
  const long = `node-${'x'.repeat(80)}.example.internal`;
  const idx = indexNodes([
    node('a', [{ type: 'InternalIP', address: '192.0.2.1' }, { type: 'InternalIP', address: '2001:db8::1' }, { type: 'ExternalIP', address: '198.51.100.1' }, { type: 'Hostname', address: 'a' }]),
    node(long, [{ type: 'InternalIP', address: '192.0.2.2' }]),
  ]);
  expect([...idx.byIP]).toEqual([['192.0.2.1', 'a'], ['2001:db8::1', 'a'], ['192.0.2.2', long]]);
  expect(wireIdentity(long)).not.toBe(long);
  expect(idx.byWire.get(wireIdentity(long))).toBe(long);
  expect(idx.byWire.get('a')).toBe('a');
  expect(idx.byIP.get('198.51.100.1')).toBeUndefined();
});

test('an InternalIP two Nodes list stays with the first, as a scan in list order found it', () => {
  const idx = indexNodes([node('a', [{ type: 'InternalIP', address: '192.0.2.1' }]), node('b', [{ type: 'InternalIP', address: '192.0.2.1' }])]);
  expect(idx.byIP.get('192.0.2.1')).toBe('a');
});
