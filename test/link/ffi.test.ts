/**
 * The libc adapter and the error types, without privileges.
 */
import { describe, expect, test } from 'bun:test';
import { libc, loadLibc } from '../../src/runtime/ffi.ts';
import { errnoMessage, errnoName, LinkError, linkError, PermissionError } from '../../src/link/errors.ts';
import { ARP_NDP_PROGRAM, CONTROL_PROGRAM, REQUEST_PROGRAM, packProgram } from '../../src/link/packet.ts';
import { filterArp as arpOp, filterFrame as frame, filterIcmp6 as icmp6, runBpf } from './bpf.ts';

describe('libc adapter', () => {
  test('loads once per thread and reports the runtime', async () => {
    expect(libc()).toBe(libc());
    expect(await loadLibc()).toBe(libc());
    expect(libc().runtime).toBe('bun');
  });

  test('errno is read back correctly after failing calls, also under allocation pressure', () => {
    const lib = libc();
    const buf = new Uint8Array(8);
    let wrong = 0;
    for (let i = 0; i < 20_000; i++) {
      if (lib.socket(999, 3, 0) !== -1 || lib.errno() !== 97) wrong++; // EAFNOSUPPORT
      if (i % 100 === 0) void Array.from({ length: 200 }, (_, j) => ({ j, s: `x${j}` }));
      if (lib.read(-1, buf, 8) !== -1 || lib.errno() !== 9) wrong++; // EBADF
    }
    expect(wrong).toBe(0);
  });

  test('lengths beyond the buffer are refused before reaching C', () => {
    const lib = libc();
    expect(() => lib.send(-1, new Uint8Array(4), 5, 0)).toThrow(RangeError);
    expect(() => lib.recv(-1, new Uint8Array(4).subarray(1), 4, 0)).toThrow(RangeError);
    expect(() => lib.poll(new Uint8Array(8), 2, 0)).toThrow(RangeError);
    expect(() => lib.bind(-1, new Uint8Array(4), -1)).toThrow(RangeError);
    expect(() => lib.if_nametoindex(new TextEncoder().encode('lo'))).toThrow(RangeError);
  });

  test('if_nametoindex finds lo and returns 0 for unknown names', () => {
    const lib = libc();
    expect(lib.if_nametoindex(new TextEncoder().encode('lo\0'))).toBeGreaterThan(0);
    expect(lib.if_nametoindex(new TextEncoder().encode('l2lb-nosuch\0'))).toBe(0);
  });
});

describe('errors', () => {
  test('messages name the operation, the errno symbol and its text', () => {
    expect(errnoName(1)).toBe('EPERM');
    expect(errnoName(100)).toBe('ENETDOWN');
    expect(errnoName(4242)).toBe('errno 4242');
    expect(errnoMessage(6)).toBe('No such device or address');
    const e = new LinkError('send', 100);
    expect(e.message).toBe('send failed: ENETDOWN (Network is down)');
    expect(e).toMatchObject({ errno: 100, op: 'send', code: 'ENETDOWN', name: 'LinkError' });
  });

  test('only socket() refusals become PermissionError', () => {
    expect(linkError('socket(AF_PACKET)', 1)).toBeInstanceOf(PermissionError);
    expect(linkError('socket(AF_PACKET)', 13)).toBeInstanceOf(PermissionError);
    expect(linkError('socket(AF_PACKET)', 97)).not.toBeInstanceOf(PermissionError);
    expect(linkError('bind(ifindex 3)', 1)).not.toBeInstanceOf(PermissionError);
    const p = linkError('socket(AF_PACKET)', 1);
    expect(p).toBeInstanceOf(LinkError);
    expect(p.message.startsWith('socket(AF_PACKET) failed: EPERM (Operation not permitted)\n')).toBe(true);
  });
});

describe('arp-ndp BPF program', () => {
  test('every jump lands inside the program and it ends in returns', () => {
    ARP_NDP_PROGRAM.forEach(([code, jt, jf], i) => {
      if ((code & 0x07) === 0x05) {
        expect(i + 1 + jt).toBeLessThan(ARP_NDP_PROGRAM.length);
        expect(i + 1 + jf).toBeLessThan(ARP_NDP_PROGRAM.length);
      }
    });
    expect(ARP_NDP_PROGRAM.at(-1)![0]).toBe(0x06);
    expect(ARP_NDP_PROGRAM.at(-2)![0]).toBe(0x06);
    const packed = packProgram(ARP_NDP_PROGRAM);
    expect(packed.length).toBe(ARP_NDP_PROGRAM.length * 8);
    // ld [SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT] (0xfffff030), then ldh [12]: the EtherType.
    expect(Array.from(packed.subarray(0, 8))).toEqual([0x20, 0, 0, 0, 0x30, 0xf0, 0xff, 0xff]);
    expect(Array.from(packed.subarray(16, 24))).toEqual([0x28, 0, 0, 0, 12, 0, 0, 0]);
  });
});

describe('the two receive lanes (control and requests)', () => {
  const cases: [string, Uint8Array][] = [
    ['arp-request', arpOp(1)], ['arp-reply', arpOp(2)], ['arp-op-3', arpOp(3)], ['arp-op-256', arpOp(0x100)],
    ['ns', icmp6(135)], ['na', icmp6(136)], ['rs', icmp6(133)], ['echo6', icmp6(128)], ['udp6', icmp6(135, 17)],
    ['heartbeat', frame(0x88b5, () => {})], ['ipv4', frame(0x0800, () => {})], ['runt-arp', arpOp(1).subarray(0, 20)],
    ['runt-ipv6', icmp6(135).subarray(0, 54)],
  ];

  test('split what arp-ndp accepts between them, with no frame in both and nothing new', () => {
    const passes = (program: typeof ARP_NDP_PROGRAM, tagged = false) =>
      cases.filter(([, f]) => runBpf(program, f, { tagged }) > 0).map(([name]) => name);
    expect(passes(CONTROL_PROGRAM)).toEqual(['arp-reply', 'na', 'heartbeat']);
    expect(passes(REQUEST_PROGRAM)).toEqual(['arp-request', 'arp-op-3', 'arp-op-256', 'ns', 'runt-arp']);
    expect(passes(ARP_NDP_PROGRAM).sort()).toEqual([...passes(CONTROL_PROGRAM), ...passes(REQUEST_PROGRAM)].sort());
    for (const program of [CONTROL_PROGRAM, REQUEST_PROGRAM, ARP_NDP_PROGRAM]) expect(passes(program, true)).toEqual([]);
  });

  test('every jump lands inside each program and each ends in returns', () => {
    for (const program of [CONTROL_PROGRAM, REQUEST_PROGRAM]) {
      program.forEach(([code, jt, jf], i) => {
        if ((code & 0x07) === 0x05) expect(Math.max(i + 1 + jt, i + 1 + jf)).toBeLessThan(program.length);
      });
      expect(program.at(-1)![0]).toBe(0x06);
      expect(program.at(-2)![0]).toBe(0x06);
    }
  });
});
