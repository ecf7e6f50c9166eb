/**
 * The same source under Deno (`deno run -A src/main.ts`): the responder answers ARP and NDP in a network
 * namespace exactly as the compiled Bun binary does, and API mutations work.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { type Pair, createPair, requireRoot, sh, waitFor } from '../support/netns.ts';
import { type Running, DENO, ROOT, startL2lb } from '../support/l2lb.ts';

const root = requireRoot('e2e deno');
let pair: Pair;
let l2: Running;

describe.skipIf(!root)('under Deno', () => {
  beforeAll(async () => {
    pair = createPair('l2deno');
    sh(['ip', 'addr', 'add', '192.0.2.2/24', 'dev', pair.ifB], { ns: pair.nsB });
    sh(['ip', 'addr', 'add', '2001:db8::2/64', 'dev', pair.ifB, 'nodad'], { ns: pair.nsB });
    l2 = await startL2lb(pair.nsA, {
      interfaces: [pair.ifA],
      vips: [{ ip: '192.0.2.10' }, { ip: '2001:db8::10' }],
      announce: { probeCount: 1, probeInterval: '50ms', probeWait: '100ms' },
    }, { command: [DENO, 'run', '-A', `${ROOT}/src/main.ts`] });
    await waitFor('VIPs active', () => l2.api('GET', '/v1/vips').json?.vips?.every((v: { state: string }) => v.state === 'active'), 5000);
  }, 60000);

  afterAll(async () => {
    await l2?.stop('SIGKILL');
    pair?.destroy();
  });

  test('reports the Deno runtime', () => {
    expect(l2.api('GET', '/v1/status').json.runtime).toMatch(/^deno /);
  });

  test('arping and ndisc6 get our MAC', () => {
    const a = sh(['arping', '-c', '1', '-w', '1', '-I', pair.ifB, '192.0.2.10'], { ns: pair.nsB, check: false });
    expect(a.stdout.toLowerCase()).toContain(`[${pair.macA}]`);
    const n = sh(['ndisc6', '-r', '3', '-w', '500', '2001:db8::10', pair.ifB], { ns: pair.nsB, check: false });
    expect(n.stdout.toLowerCase()).toContain(`target link-layer address: ${pair.macA}`);
  });

  test('a new VIP through the API is answered, and stops being answered after DELETE', async () => {
    expect(l2.api('PUT', '/v1/vips/192.0.2.44', {}).status).toBe(201);
    await waitFor('192.0.2.44 active', () => l2.api('GET', '/v1/vips/192.0.2.44').json?.state === 'active', 3000);
    const a = sh(['arping', '-c', '1', '-w', '1', '-I', pair.ifB, '192.0.2.44'], { ns: pair.nsB, check: false });
    expect(a.stdout.toLowerCase()).toContain(`[${pair.macA}]`);
    expect(l2.api('DELETE', '/v1/vips/192.0.2.44').status).toBe(204);
    const b = sh(['arping', '-c', '1', '-w', '1', '-I', pair.ifB, '192.0.2.44'], { ns: pair.nsB, check: false });
    expect(b.code).not.toBe(0);
  });

  test('SIGTERM stops it cleanly', async () => {
    expect(await l2.stop('SIGTERM')).toBe(0);
  });
});
