import { describe, expect, test } from 'bun:test';
import { parseIP } from '../../src/net/ip.ts';
import { BROADCAST_MAC, ZERO_MAC, copyMAC, formatMAC, ipv6MulticastMAC, isUnicastMAC, macEquals, parseMAC } from '../../src/net/mac.ts';

describe('parseMAC', () => {
  test.each([
    ['00:00:5e:00:53:01', [0x00, 0x00, 0x5e, 0x00, 0x53, 0x01]],
    ['AA:bb:CC:dd:EE:ff', [0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]],
    ['02-00-00-00-00-01', [0x02, 0, 0, 0, 0, 0x01]],
    ['ff:ff:ff:ff:ff:ff', [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]],
  ])('%s', (text, bytes) => {
    const mac = parseMAC(text);
    expect(mac).toBeInstanceOf(Uint8Array);
    expect([...mac!]).toEqual(bytes);
  });

  test.each([
    '', '00:00:5e:00:53', '00:00:5e:00:53:01:02', '00:00:5e:00:53:1', '0:0:5e:0:53:1', '00:00-5e:00:53:01',
    '00005e005301', '0000.5e00.5301', '00:00:5e:00:53:0g', ' 00:00:5e:00:53:01', '00:00:5e:00:53:01 ',
    '00 00 5e 00 53 01', '00::5e:00:53:01:0', '+0:00:5e:00:53:01',
  ])('rejects %p', (text) => {
    expect(parseMAC(text)).toBeUndefined();
  });
});

describe('formatMAC and macEquals', () => {
  test('lower-case colon form, at an offset', () => {
    expect(formatMAC(parseMAC('AA-BB-CC-0D-0E-0F')!)).toBe('aa:bb:cc:0d:0e:0f');
    const buf = new Uint8Array([1, 2, 0, 0, 0x5e, 0, 0x53, 0x01, 9]);
    expect(formatMAC(buf, 2)).toBe('00:00:5e:00:53:01');
    expect(formatMAC(BROADCAST_MAC)).toBe('ff:ff:ff:ff:ff:ff');
    expect(formatMAC(ZERO_MAC)).toBe('00:00:00:00:00:00');
  });

  test('macEquals compares 6 bytes at the given offsets', () => {
    const a = parseMAC('00:00:5e:00:53:01')!;
    const buf = new Uint8Array([7, 0, 0, 0x5e, 0, 0x53, 0x01, 7]);
    expect(macEquals(a, buf, 0, 1)).toBe(true);
    expect(macEquals(buf, a, 1)).toBe(true);
    expect(macEquals(a, buf)).toBe(false);
    expect(macEquals(a, parseMAC('00:00:5e:00:53:02')!)).toBe(false);
    expect(macEquals(a, copyMAC(a))).toBe(true);
    // Not enough bytes left is "not equal", not a read past the end.
    expect(macEquals(a, buf, 0, 3)).toBe(false);
  });

  test('copyMAC does not alias the frame', () => {
    const frame = new Uint8Array([1, 2, 3, 4, 5, 6, 7]);
    const mac = copyMAC(frame, 1);
    frame[1] = 99;
    expect(formatMAC(mac)).toBe('02:03:04:05:06:07');
  });
});

describe('ipv6MulticastMAC and isUnicastMAC', () => {
  test.each([
    ['ff02::1', '33:33:00:00:00:01'],
    ['ff02::1:ff00:2', '33:33:ff:00:00:02'],
    ['ff02::1:ff45:6789', '33:33:ff:45:67:89'],
    ['ff05::1:3', '33:33:00:01:00:03'],
  ])('%s -> %s (RFC 2464 7)', (ip, mac) => {
    expect(formatMAC(ipv6MulticastMAC(parseIP(ip)!))).toBe(mac);
  });

  test('IPv4 has no 33:33 mapping', () => {
    expect(() => ipv6MulticastMAC(parseIP('224.0.0.1')!)).toThrow(RangeError);
  });

  test.each([
    ['00:00:5e:00:53:01', true],
    ['02:00:00:00:00:01', true], // locally administered unicast
    ['00:00:00:00:00:00', false],
    ['ff:ff:ff:ff:ff:ff', false],
    ['01:00:5e:00:00:01', false], // IPv4 multicast
    ['33:33:00:00:00:01', false], // IPv6 multicast
    ['03:00:00:00:00:00', false],
  ])('%s unicast %p', (mac, want) => {
    expect(isUnicastMAC(parseMAC(mac)!)).toBe(want);
  });
});
