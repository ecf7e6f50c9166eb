/**
 * The admin API listen address: `host:port` or `[v6]:port`, host an IP address or `localhost`.
 */
import { formatIP, parseIP } from '../net/ip.ts';

/** A parsed listen address; `host` is `localhost` or a canonical IP (IPv6 without brackets). */
export interface ListenAddress {
  host: string;
  port: number;
}

/** What a listen address should look like, for error messages. */
export const LISTEN_EXPECTED = 'host:port, e.g. 127.0.0.1:9470 or [::1]:9470 (host an IP address or localhost, port 1-65535)';

/** Outcome of {@link parseListen}: the address, or what was wrong with the text. */
export type ListenResult = { ok: true; address: ListenAddress } | { ok: false; expected: string };

/** Parses `host:port` / `[v6]:port`, saying precisely which part is wrong when it fails. */
export function parseListen(text: string): ListenResult {
  const bracketed = /^\[([^\]]*)\]:([^:]*)$/.exec(text);
  const plain = bracketed ? null : /^([^:[\]]*):([^:]*)$/.exec(text);
  const match = bracketed ?? plain;
  if (!match) {
    if (text.includes('::') || (text.match(/:/g)?.length ?? 0) > 1) {
      return { ok: false, expected: 'an IPv6 host in brackets, e.g. [::1]:9470' };
    }
    return { ok: false, expected: LISTEN_EXPECTED };
  }
  const [, hostText = '', portText = ''] = match;
  if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
    return { ok: false, expected: `a port from 1 to 65535 in ${LISTEN_EXPECTED}` };
  }
  const port = Number(portText);
  if (!bracketed && hostText.toLowerCase() === 'localhost') return { ok: true, address: { host: 'localhost', port } };
  const ip = parseIP(hostText);
  if (ip === undefined) return { ok: false, expected: `an IP address or localhost as host in ${LISTEN_EXPECTED}` };
  const host = formatIP(ip);
  if (bracketed !== null && !host.includes(':')) {
    return { ok: false, expected: 'brackets only around an IPv6 host, e.g. 127.0.0.1:9470' };
  }
  return { ok: true, address: { host, port } };
}

/** The canonical text of a listen address: `127.0.0.1:9470`, `[::1]:9470`, `localhost:9470`. */
export function formatListen(address: ListenAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/**
 * True for hosts only this machine can reach: `localhost`, 127.0.0.0/8, `::1` and IPv4-mapped
 * 127.0.0.0/8. `host` must be canonical (as {@link parseListen} returns it).
 */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^(::ffff:)?127\./i.test(host);
}
