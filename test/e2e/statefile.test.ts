/**
 * The state file under faults, against the compiled binary: its directory is a small tmpfs that the test
 * fills to the brim, remounts read-only, and empties again. A change that cannot be saved is refused with a
 * 503 that says why (and names no path); the last good state stays on disk and in the VIP table; the next
 * change after the fault clears works with no restart.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Pair, createPair, requireRoot, sh } from '../support/netns.ts';
import { type Running, ensureBinary, startL2lb } from '../support/l2lb.ts';
import { tempDir } from '../support/tmp.ts';

const root = requireRoot('e2e state file');
const MNT = tempDir('l2lb-statefs-');
const STATE = join(MNT, 'state.json');
let pair: Pair;
let l2: Running;

const onDisk = (): string[] => Object.keys((JSON.parse(readFileSync(STATE, 'utf8')) as { vips: Record<string, unknown> }).vips).sort();
const table = (): string[] => (l2.api('GET', '/v1/vips').json.vips as { ip: string }[]).map((v) => v.ip).sort();

describe.skipIf(!root)('state file faults (compiled binary, tmpfs)', () => {
  beforeAll(async () => {
    ensureBinary();
    sh(['mount', '-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', MNT]);
    pair = createPair('l2sf');
    l2 = await startL2lb(pair.nsA, { interfaces: [pair.ifA], stateFile: STATE });
    expect(l2.api('PUT', '/v1/vips/192.0.2.10', {}).status).toBe(201);
  });

  afterAll(async () => {
    await l2?.stop('SIGKILL');
    pair?.destroy();
    sh(['umount', MNT], { check: false });
  });

  test('disk full: the change is refused with the reason; nothing changes; it works again once there is room', () => {
    // Fill the file system to the brim.
    sh(['dd', 'if=/dev/zero', `of=${join(MNT, 'filler')}`, 'bs=4k'], { check: false });
    const r = l2.api('PUT', '/v1/vips/192.0.2.11', {});
    expect(r.status).toBe(503);
    expect(r.json.detail).toContain('ENOSPC: no space left on the device');
    expect(r.json.detail).toContain('the change was not made');
    expect(r.json.detail).not.toContain(MNT);
    expect(table()).toEqual(['192.0.2.10']);
    expect(onDisk()).toEqual(['192.0.2.10']);
    expect(l2.api('DELETE', '/v1/vips/192.0.2.10').status).toBe(503);
    expect(table()).toEqual(['192.0.2.10']);
    rmSync(join(MNT, 'filler'));
    expect(l2.api('PUT', '/v1/vips/192.0.2.11', {}).status).toBe(201);
    expect(onDisk()).toEqual(['192.0.2.10', '192.0.2.11']);
    // No temp file left behind by the failed writes.
    expect(sh(['ls', MNT]).stdout.trim().split('\n')).toEqual(['state.json']);
  });

  test('read-only file system: refused with the reason, recovers after the remount', () => {
    sh(['mount', '-o', 'remount,ro', MNT]);
    try {
      const r = l2.api('PUT', '/v1/vips/192.0.2.12', {});
      expect(r.status).toBe(503);
      expect(r.json.detail).toContain('EROFS: read-only file system');
      expect(table()).toEqual(['192.0.2.10', '192.0.2.11']);
    } finally {
      sh(['mount', '-o', 'remount,rw', MNT]);
    }
    expect(l2.api('PUT', '/v1/vips/192.0.2.12', {}).status).toBe(201);
    expect(onDisk()).toEqual(['192.0.2.10', '192.0.2.11', '192.0.2.12']);
  });

  test('the file removed while running is written whole again at the next change; one replaced is overwritten with the state in force', () => {
    rmSync(STATE);
    expect(l2.api('DELETE', '/v1/vips/192.0.2.12').status).toBe(204);
    expect(onDisk()).toEqual(['192.0.2.10', '192.0.2.11']);
    writeFileSync(STATE, 'garbage');
    expect(l2.api('PUT', '/v1/vips/192.0.2.13', {}).status).toBe(201);
    expect(onDisk()).toEqual(['192.0.2.10', '192.0.2.11', '192.0.2.13']);
    expect(existsSync(STATE)).toBe(true);
  });
});
