import { expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { envTable } from '../../src/config/env.ts';
import { loadConfig } from '../../src/config/load.ts';
import { DEFAULT_CONFIG } from '../../src/config/schema.ts';

const EXAMPLE = join(import.meta.dir, '../../config/l2lb.example.yaml');

test('config/l2lb.example.yaml is DEFAULT_CONFIG plus its example VIPs', () => {
  const { config } = loadConfig({ file: EXAMPLE, env: {} });
  expect(config.vips.length).toBeGreaterThan(0);
  expect(config).toEqual({ ...DEFAULT_CONFIG, vips: config.vips });
  expect(config.vips).toEqual([{ ip: '192.0.2.10' }, { ip: '2001:db8::10', interface: 'eth0', mac: '02:00:5e:00:53:01' }]);
});

test('config/l2lb.example.yaml documents every key and its variable', () => {
  const text = readFileSync(EXAMPLE, 'utf8');
  for (const key of envTable()) {
    const name = key.segments[key.segments.length - 1]!;
    expect(text).toMatch(new RegExp(`^[ #]*${name}:`, 'm'));
    if (key.kind !== 'object') expect(text).toContain(`(${key.env})`);
  }
});
