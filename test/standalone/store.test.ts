import { afterEach, beforeEach, describe, expect, test } from 'bun:test';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StateFileError, StateWriteError, VipStore } from '../../src/standalone/store.ts';

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'l2lb-store-'));
  path = join(dir, 'sub', 'state.json');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const config = [{ ip: '192.0.2.10' }, { ip: '2001:db8::10', interface: 'eth1' }];

describe('VipStore', () => {
  test('no state file: the config VIPs', () => {
    const s = new VipStore(config, path);
    s.load();
    expect(s.error).toBeUndefined();
    expect(s.effective()).toEqual([
      { ip: '192.0.2.10', source: 'config' },
      { ip: '2001:db8::10', interface: 'eth1', source: 'config' },
    ]);
  });

  test('API changes survive a restart; config edits still apply', () => {
    const s = new VipStore(config, path);
    s.load();
    expect(s.put('198.51.100.7', { mac: '02:00:00:00:00:07' })).toBe(true);
    expect(s.put('192.0.2.10', { interface: 'eth2' })).toBe(false); // overrides a config VIP
    expect(s.delete('2001:db8::10')).toBe(true);
    expect(s.delete('2001:db8::99')).toBe(false);

    const edited = [...config, { ip: '203.0.113.1' }];
    const again = new VipStore(edited, path);
    again.load();
    expect(again.error).toBeUndefined();
    const byIp = Object.fromEntries(again.effective().map((v) => [v.ip, v]));
    expect(Object.keys(byIp).sort()).toEqual(['192.0.2.10', '198.51.100.7', '203.0.113.1']);
    expect(byIp['192.0.2.10']).toEqual({ ip: '192.0.2.10', interface: 'eth2', source: 'api' });
    expect(byIp['198.51.100.7']).toEqual({ ip: '198.51.100.7', mac: '02:00:00:00:00:07', source: 'api' });
    expect(byIp['203.0.113.1']!.source).toBe('config');
  });

  test('writes atomically: no temp file is left, content is complete JSON', () => {
    const s = new VipStore([], path);
    s.load();
    for (let i = 0; i < 20; i++) s.put(`192.0.2.${i + 1}`, {});
    expect(readdirSync(join(dir, 'sub'))).toEqual(['state.json']);
    const data = JSON.parse(readFileSync(path, 'utf8'));
    expect(Object.keys(data.vips)).toHaveLength(20);
    expect(data.version).toBe(1);
  });

  test('a corrupt state file is reported, kept as it is, and mutations are refused', () => {
    const s0 = new VipStore([], path);
    s0.put('192.0.2.1', {});
    writeFileSync(path, '{"version":1,"vips":{"192.0.2.1":{}');
    const s = new VipStore(config, path);
    s.load();
    expect(s.error).toBeInstanceOf(StateFileError);
    expect(s.error!.message).toContain(path);
    expect(s.error!.message).toContain('will not overwrite');
    // Config VIPs are still served.
    expect(s.effective().map((v) => v.ip)).toEqual(['192.0.2.10', '2001:db8::10']);
    expect(() => s.put('192.0.2.2', {})).toThrow(StateFileError);
    expect(readFileSync(path, 'utf8')).toBe('{"version":1,"vips":{"192.0.2.1":{}');
    // Fixed by the operator: the next change reads it again and goes through, no restart needed.
    writeFileSync(path, '{"version":1,"vips":{"192.0.2.1":{}},"deleted":[]}');
    expect(s.put('192.0.2.2', {})).toBe(true);
    expect(s.error).toBeUndefined();
    expect(s.effective().map((v) => v.ip).sort()).toEqual(['192.0.2.1', '192.0.2.10', '192.0.2.2', '2001:db8::10']);
  });

  test('a write that fails (no room, read-only, no permission) changes nothing and says why without the path', () => {
    // Under /proc nothing can be created, whoever runs the test (root included).
    const s = new VipStore([], '/proc/l2lb-test-state.json');
    s.load();
    expect(s.error).toBeUndefined();
    let err: unknown;
    try {
      s.put('192.0.2.5', {});
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StateWriteError);
    expect((err as Error).message).toContain('the change was not made');
    expect((err as Error).message).not.toContain('/proc');
    expect(s.effective()).toEqual([]);
  });

  test.each([
    ['[]', 'expected a JSON object'],
    ['{"version":2,"vips":{},"deleted":[]}', 'unknown version 2'],
    ['{"version":1,"vips":{"192.0.2.001":{}},"deleted":[]}', 'not a canonical IP'],
    ['{"version":1,"vips":{"192.0.2.1":{"mac":"zz"}},"deleted":[]}', 'not a MAC'],
    ['{"version":1,"vips":{},"deleted":"x"}', '"deleted" must be a list'],
  ])('rejects %s', (text, why) => {
    writeFileSync(join(dir, 'bad.json'), text);
    const s = new VipStore([], join(dir, 'bad.json'));
    s.load();
    expect(s.error?.message).toContain(why);
  });

  test('empty stateFile disables persistence', () => {
    const s = new VipStore([], '');
    s.load();
    s.put('192.0.2.1', {});
    expect(s.effective()).toHaveLength(1);
    expect(existsSync(path)).toBe(false);
  });
});
