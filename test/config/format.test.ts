import { afterAll, describe, expect, test } from 'bun:test';
import YAML from 'yaml';
import { formatConfig, loadConfig } from '../../src/config/load.ts';
import { DEFAULT_CONFIG } from '../../src/config/schema.ts';
import { tempDir } from './helpers.ts';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const FILE_TEXT = [
  'interfaces: [eth0, eth1]',
  'api: {listen: "[2001:db8::1]:9470"}',
  'vips:',
  '  - {ip: 192.0.2.10, interface: eth0, mac: "02:00:5e:00:53:01"}',
  '  - {ip: "2001:db8::10"}',
  'announce: {probeWait: 1.5s}',
  'stateFile: ""',
].join('\n');

describe('formatConfig', () => {
  test('masks the token, names sources of non-default values, and loads back', () => {
    const file = tmp.write('fmt.yaml', FILE_TEXT);
    const loaded = loadConfig({ file, env: { L2LB_API_TOKEN: 'hunter2', L2LB_LOG_FORMAT: 'text' } });
    const yaml = formatConfig(loaded);
    expect(yaml).not.toContain('hunter2');
    expect(yaml).toMatch(/^ {2}token: "\*\*\*" # env L2LB_API_TOKEN$/m);
    expect(yaml).toMatch(/^ {2}format: text # env L2LB_LOG_FORMAT$/m);
    expect(yaml).toMatch(new RegExp(`^interfaces: \\[ eth0, eth1 \\] # file ${file}$`, 'm'));
    expect(yaml).toMatch(new RegExp(`^vips: # file ${file}$`, 'm'));
    expect(yaml).toMatch(new RegExp(`^ {2}probeWait: 1500 # file ${file}$`, 'm'));
    expect(yaml).toMatch(/^ {2}probeCount: 3$/m);
    expect(yaml).toContain(`# config file: ${file}`);

    const printed = tmp.write('printed.yaml', yaml);
    const again = loadConfig({ file: printed, env: {} });
    expect(again.config).toEqual({ ...loaded.config, api: { ...loaded.config.api, token: '***' } });
  });

  test('a token read from tokenFile prints as the file and round-trips exactly', () => {
    const tokenFile = tmp.write('tok', 'abc\n');
    const loaded = loadConfig({ env: { L2LB_API_LISTEN: '0.0.0.0:9470', L2LB_API_TOKEN_FILE: tokenFile } });
    const yaml = formatConfig(loaded);
    expect(yaml).not.toContain('abc');
    expect(yaml).not.toContain('token:');
    expect(yaml).toContain(`tokenFile: ${tokenFile} # env L2LB_API_TOKEN_FILE`);
    expect(loadConfig({ file: tmp.write('tok-printed.yaml', yaml), env: {} }).config).toEqual(loaded.config);
  });

  test('the default config prints without source comments and round-trips', () => {
    const yaml = formatConfig(loadConfig({ env: {} }));
    expect(yaml).toContain('# no config file');
    // Only the header is commented.
    expect(yaml.split('\n').filter((line) => line.includes('#')).every((line) => line.startsWith('#'))).toBe(true);
    expect(loadConfig({ file: tmp.write('default-printed.yaml', yaml), env: {} }).config).toEqual(DEFAULT_CONFIG);
  });

  test('JSON output is the same config, masked', () => {
    const file = tmp.write('fmt-json.yaml', FILE_TEXT);
    const loaded = loadConfig({ file, env: { L2LB_API_TOKEN: 'hunter2' } });
    const json = formatConfig(loaded, 'json');
    expect(JSON.parse(json)).toEqual({ ...loaded.config, api: { ...loaded.config.api, token: '***' } });
    expect(YAML.parse(formatConfig(loaded, 'yaml'))).toEqual(JSON.parse(json));
    expect(loadConfig({ file: tmp.write('printed.json', json), env: {} }).config.vips).toEqual(loaded.config.vips);
  });
});
