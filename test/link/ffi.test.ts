/**
 * The libc adapter and the error types, without privileges.
 */
import { describe, expect, test } from 'bun:test';
import { libc, loadLibc } from '../../src/runtime/ffi.ts';
import { errnoMessage, errnoName, LinkError, linkError, PermissionError } from '../../src/link/errors.ts';
import { ARP_NDP_PROGRAM, packProgram } from '../../src/link/packet.ts';

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
