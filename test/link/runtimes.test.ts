/**
 * The same link-layer source under Deno (`deno run -A`) and inside a `bun build --compile` binary:
 * open a socket, send an ARP request, receive the reply from the other namespace.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, rmSync } from 'node:fs';
import { addAddress, createPair, requireRoot, sh, type Pair } from '../support/netns.ts';

const run = requireRoot('link/runtimes');
const ROOT = new URL('../../', import.meta.url).pathname;
const SMOKE = new URL('./deno-smoke.ts', import.meta.url).pathname;
const DENO = `${ROOT}node_modules/.bin/deno`;

interface Smoke {
  runtime: string;
  ifindex: number;
  mac: string;
  source: string;
  sent: number;
  reply: { from: string; senderIp: string } | null;
  badSocket: number;
  errno: number;
  errnoWrong: number;
}

describe.skipIf(!run)('link layer in other runtimes', () => {
  let pair: Pair;
  const binary = `/tmp/l2lb-link-smoke-${process.pid}`;
  beforeAll(() => {
    pair = createPair('l2rt');
    addAddress(pair.nsA, pair.ifA, '192.0.2.1/24');
    addAddress(pair.nsB, pair.ifB, '192.0.2.2/24');
  });
  afterAll(() => {
    pair?.destroy();
    rmSync(binary, { force: true });
  });

  function check(out: string, runtime: string): void {
    const s = JSON.parse(out.trim().split('\n').at(-1)!) as Smoke;
    expect(s.runtime).toBe(runtime);
    expect(s.mac).toBe(pair.macA);
    expect(s.source).toBe('192.0.2.1');
    expect(s.sent).toBe(60);
    expect(s.reply).toEqual({ from: pair.macB, senderIp: '192.0.2.2' });
    expect(s.badSocket).toBe(-1);
    expect(s.errno).toBe(97); // EAFNOSUPPORT
    expect(s.errnoWrong).toBe(0);
  }

  test('deno run -A test/link/deno-smoke.ts sends ARP and receives the reply', () => {
    const r = sh([DENO, 'run', '-A', SMOKE, pair.ifA], { ns: pair.nsA });
    check(r.stdout, 'deno');
  }, 60_000);

  test('bun build --compile binary loads the FFI adapter and does the same', () => {
    sh([`${ROOT}node_modules/.bin/bun`, 'build', '--compile', SMOKE, '--outfile', binary]);
    expect(existsSync(binary)).toBe(true);
    // The binary, not the source tree, must do the work: run it from / .
    const r = sh(['sh', '-c', `cd / && exec "${binary}" "${pair.ifA}"`], { ns: pair.nsA });
    check(r.stdout, 'bun');
  }, 120_000);
});
