/**
 * Without CAP_NET_RAW, opening a packet socket fails with a PermissionError that says how to grant
 * the capability. The capability is removed from a child process with capsh / setpriv.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { PermissionError } from '../../src/link/errors.ts';
import { createPair, requireRoot, sh, type Pair } from '../support/netns.ts';

const run = requireRoot('link/permission');
const BUN = process.execPath;
const FIXTURE = new URL('./fixtures/open-socket.ts', import.meta.url).pathname;

interface Outcome {
  ok: boolean;
  class?: string;
  errno?: number;
  code?: string;
  op?: string;
  message?: string;
}

function outcome(stdout: string): Outcome {
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Outcome;
}

describe.skipIf(!run)('PermissionError', () => {
  let pair: Pair;
  beforeAll(() => {
    pair = createPair('l2perm');
  });
  afterAll(() => pair?.destroy());

  test('with CAP_NET_RAW the socket opens (control)', () => {
    const r = sh([BUN, FIXTURE, pair.ifA], { ns: pair.nsA });
    expect(outcome(r.stdout)).toMatchObject({ ok: true });
  });

  test('capsh --drop=cap_net_raw: PermissionError naming the capability and the remedies', () => {
    const r = sh(['capsh', '--drop=cap_net_raw', '--', '-c', `exec "$0" "$1" "$2"`, BUN, FIXTURE, pair.ifA], { ns: pair.nsA });
    const o = outcome(r.stdout);
    expect(o).toMatchObject({ ok: false, class: 'PermissionError', errno: 1, code: 'EPERM', op: 'socket(AF_PACKET)' });
    expect(o.message!.split('\n')[0]).toBe('socket(AF_PACKET) failed: EPERM (Operation not permitted)');
    expect(o.message).toContain('CAP_NET_RAW');
    expect(o.message).toContain('setcap cap_net_raw+ep');
    expect(o.message).toContain('AmbientCapabilities=CAP_NET_RAW');
    expect(o.message).toContain('capabilities.add: [NET_RAW]');
    expect(o.message).toContain('no_new_privs');
  });

  test('setpriv without net_raw gives the same error', () => {
    const r = sh(['setpriv', '--inh-caps=-net_raw', '--bounding-set=-net_raw', BUN, FIXTURE, pair.ifA], { ns: pair.nsA });
    expect(outcome(r.stdout)).toMatchObject({ ok: false, class: 'PermissionError', code: 'EPERM' });
  });

  test('a PermissionError re-created from its message (after postMessage) keeps op, errno and help', () => {
    const r = sh(['capsh', '--drop=cap_net_raw', '--', '-c', `exec "$0" "$1" "$2"`, BUN, FIXTURE, pair.ifA], { ns: pair.nsA });
    const o = outcome(r.stdout);
    const again = new PermissionError(o.message!.split('\n')[0]!);
    expect(again.op).toBe('socket(AF_PACKET)');
    expect(again.errno).toBe(1);
    expect(again.message).toBe(o.message!);
  });
});
