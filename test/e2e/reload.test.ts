/**
 * Reload without a restart, end to end against the compiled binary: l2lb in namespace A answers a VIP for
 * namespace B; its config file is rewritten and it gets SIGHUP. New VIPs are announced, the running ones
 * keep being answered with no new probe or burst, a bad or restart-only config is refused with the reason
 * and changes nothing, and SIGHUP never ends the process.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { type Pair, createPair, requireRoot, sh, waitFor } from '../support/netns.ts';
import { type Running, ensureBinary, startL2lb } from '../support/l2lb.ts';
import { ArpCapture } from '../support/gateway.ts';
import { tempDir } from '../support/tmp.ts';

setDefaultTimeout(30_000);
const root = requireRoot('e2e reload');
const A = '192.0.2.10';
const B = '192.0.2.20';
let pair: Pair;
let l2: Running;
let base: Record<string, unknown>;
// At file level: the config file is rewritten by the tests, so it must outlive the hooks.
const DIR = tempDir('l2lb-reload-');

/** Writes the config file l2lb was started with, as `config` (plus what the harness put in). */
function rewrite(config: Record<string, unknown> | string): void {
  const file = join(l2.dir, 'l2lb.json');
  writeFileSync(file, typeof config === 'string' ? config : JSON.stringify({ ...base, ...config }, null, 2));
}

/** Log records since `from` (a position in the log text) with message `msg`. */
function records(from: number, msg: string): Record<string, unknown>[] {
  return l2.logs().slice(from).split('\n').filter((l) => l.includes(`"msg":"${msg}"`)).map((l) => JSON.parse(l));
}

describe.skipIf(!root)('reload on SIGHUP (compiled binary)', () => {
  beforeAll(async () => {
    ensureBinary();
    pair = createPair('l2rl');
    sh(['ip', 'addr', 'add', '192.0.2.2/24', 'dev', pair.ifB], { ns: pair.nsB });
    const config = {
      interfaces: [pair.ifA],
      vips: [{ ip: A }],
      announce: { probeCount: 2, probeInterval: '50ms', probeWait: '100ms', gratuitousCount: 2, gratuitousInterval: '200ms' },
      log: { level: 'info', format: 'json' },
    };
    l2 = await startL2lb(pair.nsA, config, { dir: DIR });
    // What the harness added (API, state file) stays the same in every rewrite.
    base = JSON.parse(await Bun.file(join(l2.dir, 'l2lb.json')).text());
    await waitFor('A active', () => l2.api('GET', `/v1/vips/${A}`).json?.state === 'active', 5000);
  });

  afterAll(async () => {
    await l2?.stop('SIGKILL');
    pair?.destroy();
  });

  test('a new VIP is announced; the running one is answered throughout, not probed or announced again', async () => {
    const cap = await ArpCapture.start(pair.nsB, pair.ifB);
    try {
      // B asks for A every 50 ms across the reload.
      const asker = Bun.spawn({
        cmd: ['ip', 'netns', 'exec', pair.nsB, 'bash', '-c', `for i in $(seq 40); do arping -c 1 -w 1 -I ${pair.ifB} ${A} >/dev/null; echo $?; sleep 0.05; done`],
        stdout: 'pipe', stderr: 'ignore',
      });
      await Bun.sleep(500);
      const mark = l2.logs().length;
      const t0 = Date.now();
      rewrite({ vips: [{ ip: A }, { ip: B }], log: { level: 'warn', format: 'json' }, announce: { ...(base.announce as object), gratuitousCount: 3 } });
      l2.signal('SIGHUP');
      await waitFor('B active', () => l2.api('GET', `/v1/vips/${B}`).json?.state === 'active', 5000);
      const codes = (await new Response(asker.stdout).text()).trim().split('\n');
      expect(codes.length).toBe(40);
      expect(codes.filter((c) => c !== '0')).toEqual([]); // every request for A answered
      const reloaded = records(mark, 'config reloaded');
      expect(reloaded).toHaveLength(1);
      expect(reloaded[0]!.changed).toEqual(['vips', 'announce.gratuitousCount', 'log.level']);
      // The new level is in force: B's announcement (info) is not logged any more.
      expect(records(mark, 'vip announced')).toEqual([]);
      await Bun.sleep(300);
      // A: no probe (sender 0.0.0.0) and no gratuitous after the reload; B: probed, then announced.
      const after = cap.frames.filter((f) => f.at >= t0);
      expect(after.filter((f) => f.targetIp === A && (f.senderIp === '0.0.0.0' || f.senderIp === A) && f.ethDst === 'ff:ff:ff:ff:ff:ff')).toEqual([]);
      expect(after.filter((f) => f.targetIp === B && f.senderIp === '0.0.0.0').length).toBe(2);
      expect(after.filter((f) => f.senderIp === B && f.targetIp === B).length).toBeGreaterThan(0);
      expect(l2.api('GET', `/v1/vips/${A}`).json.state).toBe('active');
    } finally {
      await cap.stop();
    }
  });

  test('a bad config is refused with the same message as at start; nothing changes', async () => {
    const mark = l2.logs().length;
    rewrite({ vips: [{ ip: A }, { ip: '224.0.0.9' }] });
    l2.signal('SIGHUP');
    const refused = await waitFor('refused', () => records(mark, 'config reload refused: the running config stays in force')[0], 3000);
    expect(String((refused.problems as string[])[0])).toContain('vips[1].ip = "224.0.0.9"');
    expect(String((refused.problems as string[])[0])).toContain('multicast');
    rewrite('{ this is not json');
    l2.signal('SIGHUP');
    await waitFor('refused again', () => records(mark, 'config reload refused: the running config stays in force').length === 2 || undefined, 3000);
    expect(l2.api('GET', '/v1/vips').json.vips.map((v: { ip: string; state: string }) => [v.ip, v.state])).toEqual([[A, 'active'], [B, 'active']]);
  });

  test('a key that needs a restart refuses the whole reload, naming the key', async () => {
    const mark = l2.logs().length;
    rewrite({ vips: [{ ip: A }], interfaces: [pair.ifA, 'lo'] });
    l2.signal('SIGHUP');
    const refused = await waitFor('refused', () => records(mark, 'config reload refused: the running config stays in force')[0], 3000);
    expect(String((refused.problems as string[])[0])).toContain('interfaces cannot change while l2lb runs: restart it');
    // B was not removed: nothing of that config was applied.
    expect(l2.api('GET', `/v1/vips/${B}`).json.state).toBe('active');
    expect(l2.api('GET', '/healthz').status).toBe(200);
  });
});
