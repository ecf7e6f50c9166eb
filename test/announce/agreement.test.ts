import { describe, expect, test } from 'bun:test';
import { AgreementTracker, compareDigests, servedBy } from '../../src/announce/agreement.ts';
import type { Serving } from '../../src/announce/ownership.ts';
import { vipDigest } from '../../src/wire/heartbeat.ts';

const hex = (ips: string[]) => Buffer.from(vipDigest(ips)).toString('hex');
const at = (node?: string): Serving => ({ ...(node ? { node } : {}), since: 0, reason: node ? 'initial' : 'none' });

const serving = new Map<string, Serving>([
  ['192.0.2.10', at('node-1')],
  ['2001:DB8::0:1', at('node-2')],
  ['192.0.2.11', at('node-2')],
  ['192.0.2.12', at()],
]);

describe('agreement between instances', () => {
  test('each node is expected to answer its addresses, in the canonical spelling the announcer digests', () => {
    expect(servedBy(serving)).toEqual(new Map([['node-1', ['192.0.2.10']], ['node-2', ['192.0.2.11', '2001:db8::1']]]));
  });

  test('a peer whose digest matches agrees; one that answers more or less does not; ourselves, fenced and gone peers are not judged', () => {
    const peers = new Map([
      ['node-1', { digest: hex(['192.0.2.10']), live: true, fenced: false }],
      ['node-2', { digest: hex(['192.0.2.11', '2001:db8::1', '192.0.2.12']), live: true, fenced: false }],
      ['node-3', { digest: hex([]), live: true, fenced: false }],
      ['node-4', { digest: hex(['x']), live: true, fenced: true }],
      ['node-5', { digest: hex(['x']), live: false, fenced: false }],
      ['node-0', { digest: hex(['x']), live: true, fenced: false }],
    ]);
    expect(compareDigests(serving, peers, 'node-0')).toEqual([
      { node: 'node-1', expected: 1, agrees: true },
      { node: 'node-2', expected: 2, agrees: false },
      { node: 'node-3', expected: 0, agrees: true },
    ]);
  });

  test('a difference counts only once it outlives the settle time, is reported once, and its end is reported', () => {
    const t = new AgreementTracker(1_000);
    const differs = [{ node: 'node-2', expected: 2, agrees: false }];
    expect(t.update(0, differs)).toEqual({ nodes: [{ ...differs[0]!, since: 0 }], started: [], ended: [] });
    expect(t.dueAt()).toBe(1_000);
    expect(t.update(999, differs).started).toEqual([]);
    expect(t.lasting(999)).toEqual([]);
    expect(t.update(1_000, differs).started).toEqual(['node-2']);
    expect(t.update(1_500, differs).started).toEqual([]);
    expect(t.lasting(1_500)).toEqual(['node-2']);
    expect(t.disagreements).toBe(1);
    expect(t.dueAt()).toBeUndefined();
    expect(t.update(2_000, [{ node: 'node-2', expected: 2, agrees: true }])).toMatchObject({ started: [], ended: ['node-2'] });
    // A short difference (a digest trailing a move) is never counted.
    t.update(3_000, differs);
    t.update(3_200, [{ node: 'node-2', expected: 2, agrees: true }]);
    expect(t.disagreements).toBe(1);
    // A node that stops being judged (gone, fenced) ends its disagreement.
    t.update(4_000, differs);
    t.update(5_000, differs);
    expect(t.update(5_100, []).ended).toEqual(['node-2']);
  });
});
