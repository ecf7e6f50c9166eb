/**
 * The status page in a real browser (Debian's Chromium, headless, via puppeteer-core; test/support/browser.ts)
 * against the compiled binary: standalone in a namespace pair with VIPs, and Kubernetes mode on the bridged
 * gateway topology with the API server stand-in. The page must load with no console error and no failed
 * request, list every address with the right MAC or node, show a VIP added through the API and a node
 * failover within a second without a reload (Server-Sent Events), and put the move with its reason on the
 * timeline; the same page served by the source under Deno. Screenshots at 1280×800 and 390×844 (light and dark) go to test/artifacts/ and must not be blank.
 * The page's weight is checked and its first paint printed (test/bench/paint.ts measures the paint).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import type { Page } from 'puppeteer-core';
import { type Pair, createPair, requireRoot, sh, waitFor } from '../support/netns.ts';
import { type Running, DENO, ROOT, ensureBinary, startL2lb } from '../support/l2lb.ts';
import { type BrowserRun, screenshot, startBrowser } from '../support/browser.ts';
import { GATEWAY_VIP, Gateway } from '../support/gateway.ts';
import { answerProblems, curlAnswer, schemaChecker } from '../support/openapi.ts';

setDefaultTimeout(90_000);
const root = requireRoot('e2e status page (Chromium)');

/**
 * What is wrong with the binary's real answers on `paths` by the document it serves itself at
 * /v1/openapi.json (the unit tests hold an app over fake parts to it; this holds the real views).
 */
function answersOffDocument(ns: string, port: number, paths: string[]): string[] {
  const base = `http://127.0.0.1:${port}`;
  const served = curlAnswer(ns, `${base}/v1/openapi.json`);
  expect(served.status).toBe(200);
  const doc = JSON.parse(served.text);
  const check = schemaChecker(doc);
  return paths.flatMap((p) => answerProblems(doc, check, 'GET', p, curlAnswer(ns, base + p)));
}

/** The rows of the address table: address → its cells' text. */
function addressRows(page: Page): Promise<Record<string, string[]>> {
  return page.evaluate(() => {
    const out: Record<string, string[]> = {};
    for (const tr of document.querySelectorAll('#addr-body tr')) out[tr.getAttribute('data-address')!] = [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '');
    return out;
  });
}

/** The timeline's entries, newest first. */
function timeline(page: Page): Promise<{ kind: string; text: string }[]> {
  return page.evaluate(() => [...document.querySelectorAll('#events li')].map((li) => ({ kind: li.getAttribute('data-kind')!, text: li.textContent ?? '' })));
}

/** Polls the page (not the API) until `fn` holds; returns the elapsed ms. */
async function onPage<T>(page: Page, what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 3_000): Promise<{ value: T; ms: number }> {
  const t0 = Date.now();
  const value = await waitFor(what, fn, timeoutMs, 25);
  return { value: value as T, ms: Date.now() - t0 };
}

describe.skipIf(!root)('status page, standalone (compiled binary, Chromium)', () => {
  let pair: Pair;
  let l2: Running;
  let run: BrowserRun;
  let url: string;

  beforeAll(async () => {
    ensureBinary();
    pair = createPair('l2pg');
    sh(['ip', 'addr', 'add', '192.0.2.2/24', 'dev', pair.ifB], { ns: pair.nsB });
    l2 = await startL2lb(pair.nsA, {
      interfaces: [pair.ifA], vips: [{ ip: '192.0.2.10' }, { ip: '2001:db8::10' }],
      announce: { probeCount: 1, probeInterval: '50ms', probeWait: '100ms', gratuitousCount: 1 },
      log: { level: 'info', format: 'json' },
    });
    url = `http://127.0.0.1:${l2.port}/`;
    await waitFor('VIPs active', () => l2.api('GET', '/v1/vips').json?.vips?.every((v: { state: string }) => v.state === 'active') || undefined, 5_000);
    run = await startBrowser(pair.nsA);
  });

  afterAll(async () => {
    await run?.close();
    await l2?.stop('SIGKILL');
    pair?.destroy();
  });

  test('loads with no console error and no failed request, lists every VIP with its MAC, and is under 100 KiB', async () => {
    const page = await run.open(url);
    const rows = (await onPage(page, 'both VIPs on the page', async () => {
      const r = await addressRows(page);
      return Object.keys(r).length === 2 ? r : undefined;
    })).value;
    const mac = l2.api('GET', '/v1/vips/192.0.2.10').json.mac;
    expect(rows['192.0.2.10']!.slice(0, 4)).toEqual(['192.0.2.10', 'active', pair.ifA, mac]);
    expect(rows['2001:db8::10']!.slice(0, 4)).toEqual(['2001:db8::10', 'active', pair.ifA, mac]);
    await Bun.sleep(2_500); // one polling round and the stream open
    const paint = await page.evaluate(() => performance.getEntriesByType('paint').map((p) => [p.name, p.startTime] as const));
    const nav = await page.evaluate(() => {
      const n = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
      return { transfer: n.transferSize, body: n.encodedBodySize };
    });
    const fcp = paint.find(([n]) => n === 'first-contentful-paint')?.[1] ?? NaN;
    console.log(`status page: document ${nav.body} bytes (${nav.transfer} transferred), first contentful paint ${fcp.toFixed(0)} ms`);
    expect(nav.transfer).toBeLessThan(100 * 1024);
    expect(await page.$eval('#livetext', (e) => e.textContent)).toBe('live');
    expect(run.problems).toEqual([]);
    // Nothing secret reaches the page: not in the document, not in any response it read.
    expect(await page.content()).not.toContain(l2.token);
    await page.close();
  });

  test('a VIP added through the API, and its conflict, appear within a second without a reload', async () => {
    const page = await run.open(url);
    await onPage(page, 'the page ready', async () => Object.keys(await addressRows(page)).length === 2);
    const marker = await page.evaluate(() => ((window as unknown as { __mark: number }).__mark = 42));
    sh(['ip', 'addr', 'add', '192.0.2.11/24', 'dev', pair.ifB], { ns: pair.nsB });
    expect(l2.api('PUT', '/v1/vips/192.0.2.11', { interface: pair.ifA }).status).toBe(201);
    const seen = await onPage(page, 'the new VIP on the page', async () => (await addressRows(page))['192.0.2.11']);
    console.log(`status page: VIP added → on the page in ${seen.ms} ms`);
    expect(seen.ms).toBeLessThan(1_000);
    const conflict = await onPage(page, 'the conflict on the timeline', async () => (await timeline(page)).find((e) => e.kind === 'conflict' && e.text.includes('192.0.2.11')));
    expect(conflict.ms).toBeLessThan(1_000);
    expect((await addressRows(page))['192.0.2.11']![1]).toBe('conflict');
    // Same page, no reload.
    expect(await page.evaluate(() => (window as unknown as { __mark?: number }).__mark)).toBe(marker);
    // The filter narrows the timeline to one address.
    await page.type('#filter', '192.0.2.11');
    const filtered = await timeline(page);
    expect(filtered.length).toBeGreaterThan(0);
    expect(filtered.every((e) => e.text.includes('192.0.2.11'))).toBe(true);
    sh(['ip', 'addr', 'del', '192.0.2.11/24', 'dev', pair.ifB], { ns: pair.nsB });
    l2.api('DELETE', '/v1/vips/192.0.2.11');
    expect(run.problems).toEqual([]);
    await page.close();
  });

  test('what the page reads fits the OpenAPI document the binary serves', () => {
    expect(answersOffDocument(pair.nsA, l2.port, ['/healthz', '/readyz', '/metrics', '/v1/status', '/v1/vips', '/v1/vips/2001:db8::10', '/v1/vips/192.0.2.99', '/v1/pools', '/v1/nodes', '/v1/history', '/v1/history?kind=vip&limit=3'])).toEqual([]);
  });

  test('screenshots at 1280×800 and 390×844, light and dark, are not blank', async () => {
    for (const [name, viewport, dark] of [
      ['standalone-1280x800', { width: 1280, height: 800 }, false],
      ['standalone-390x844', { width: 390, height: 844 }, false],
      ['standalone-1280x800-dark', { width: 1280, height: 800 }, true],
    ] as const) {
      const page = await run.open(url, viewport, dark);
      await onPage(page, 'rows', async () => Object.keys(await addressRows(page)).length >= 2);
      await Bun.sleep(300);
      const shot = await screenshot(page, name);
      expect([name, shot.colours > 50]).toEqual([name, true]);
      // Nothing wider than the screen on a phone: the tables scroll inside their box.
      if (viewport.width === 390) expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await page.close();
    }
    expect(run.problems).toEqual([]);
  });

  test('the stream broken (l2lb stopped and started again): the page says so, then picks up again', async () => {
    const page = await run.open(url);
    await onPage(page, 'live', async () => (await page.$eval('#livetext', (e) => e.textContent)) === 'live');
    l2.signal('SIGSTOP');
    try {
      await onPage(page, 'not live', async () => (await page.$eval('#livetext', (e) => e.textContent)) !== 'live', 15_000);
    } finally {
      l2.signal('SIGCONT');
    }
    await onPage(page, 'live again', async () => (await page.$eval('#livetext', (e) => e.textContent)) === 'live', 15_000);
    l2.api('PUT', '/v1/vips/192.0.2.12', { interface: pair.ifA });
    await onPage(page, 'the new VIP after the break', async () => (await addressRows(page))['192.0.2.12']);
    l2.api('DELETE', '/v1/vips/192.0.2.12');
    await page.close();
    // A stalled server makes the browser's requests fail meanwhile: expected here, not a page fault.
    run.problems.length = 0;
  });
});

describe.skipIf(!root)('status page under Deno (deno run src/main.ts, Chromium)', () => {
  let pair: Pair;
  let l2: Running;
  let run: BrowserRun;

  beforeAll(async () => {
    pair = createPair('l2pgd');
    l2 = await startL2lb(pair.nsA, {
      interfaces: [pair.ifA], vips: [{ ip: '192.0.2.10' }],
      announce: { probeCount: 0, gratuitousCount: 1 },
    }, { command: [DENO, 'run', '-A', `${ROOT}/src/main.ts`] });
    run = await startBrowser(pair.nsA);
  });

  afterAll(async () => {
    await run?.close();
    await l2?.stop('SIGKILL');
    pair?.destroy();
  });

  test('the same page loads with no console error, lists the VIP, goes live, and shows a VIP added without a reload', async () => {
    expect(l2.api('GET', '/v1/status').json.runtime).toMatch(/^deno /);
    const page = await run.open(`http://127.0.0.1:${l2.port}/`);
    await onPage(page, 'the VIP on the page', async () => (await addressRows(page))['192.0.2.10']?.[1] === 'active');
    await onPage(page, 'the stream live', async () => (await page.$eval('#livetext', (e) => e.textContent)) === 'live');
    expect(l2.api('PUT', '/v1/vips/192.0.2.12', {}).status).toBe(201);
    const seen = await onPage(page, 'the new VIP on the page', async () => (await addressRows(page))['192.0.2.12']);
    expect(seen.ms).toBeLessThan(1_000);
    expect(run.problems).toEqual([]);
    expect(answersOffDocument(pair.nsA, l2.port, ['/v1/status', '/v1/vips', '/v1/history'])).toEqual([]);
  });
});

describe.skipIf(!root)('status page, Kubernetes mode (gateway topology, Chromium)', () => {
  let gw: Gateway;
  let run: BrowserRun;

  beforeAll(async () => {
    gw = await Gateway.create({ prefix: 'l2pgk', nodes: 2, replicas: 1 });
    await gw.leader(15_000);
    await waitFor('an answer through the Service address', () => gw.curl(GATEWAY_VIP) || undefined, 10_000, 100);
    run = await startBrowser(gw.replicas[0]!.ns);
  });

  afterAll(async () => {
    await run?.close();
    await gw?.destroy();
  });

  test('what the page reads fits the OpenAPI document the binary serves (Kubernetes views, leader)', async () => {
    const r = gw.replicas[0]!;
    await waitFor('round trips in /v1/nodes', () => r.running!.api('GET', '/v1/nodes').json?.nodes?.every((n: { addresses: { rttMs?: number }[] }) => n.addresses.every((a) => a.rttMs !== undefined)) || undefined, 5_000);
    expect(answersOffDocument(r.ns, r.running!.port, ['/readyz', '/v1/status', '/v1/vips', `/v1/vips/${GATEWAY_VIP}`, '/v1/services', '/v1/nodes', '/v1/pools', '/v1/history', '/v1/history?kind=address'])).toEqual([]);
  });

  test('the address with its node, Service and pool; nodes and pools; a node failure moves it on the page within a second, with the reason on the timeline', async () => {
    const r = gw.replicas[0]!;
    const page = await run.open(`http://127.0.0.1:${r.running!.port}/`);
    const owner = gw.servingNode(0, GATEWAY_VIP)!;
    const row = (await onPage(page, 'the Service address with its node', async () => {
      const rows = await addressRows(page);
      return rows[GATEWAY_VIP]?.[2] === owner ? rows[GATEWAY_VIP] : undefined;
    })).value;
    expect(row.slice(0, 3)).toEqual([GATEWAY_VIP, 'active', owner]);
    expect(row[3]).toBe(gw.node(owner).mac);
    expect(row[7]).toBe('default/web');
    expect(row[8]).toBe('lan');
    const nodes = await page.evaluate(() => [...document.querySelectorAll('#node-body tr')].map((tr) => tr.getAttribute('data-node')));
    expect(nodes.sort()).toEqual(gw.nodes.map((n) => n.node).sort());
    // Each node's probe round trip, and a chart of the recent ones, once a few rounds have answered.
    const probes = (await onPage(page, 'round trips on the page', async () => {
      const p = await page.evaluate(() => [...document.querySelectorAll('#node-body tr')].map((tr) => ({ text: tr.textContent ?? '', charts: tr.querySelectorAll('svg.spark polyline').length })));
      return p.every((x) => /\d ms/.test(x.text) && x.charts === 1) ? p : undefined;
    }, 5_000)).value;
    expect(probes).toHaveLength(2);
    const api = r.running!.api('GET', '/v1/nodes').json.nodes;
    for (const n of api) expect([n.name, n.addresses[0].rttMs >= 0, n.addresses[0].rttsMs.length > 1, typeof n.addresses[0].lastAnswer]).toEqual([n.name, true, true, 'string']);
    expect(await page.evaluate(() => document.querySelector('[data-pool="lan"]')?.textContent ?? '')).toContain('1 / 8 used');
    await screenshot(page, 'kubernetes-1280x800');

    const tLink = Date.now();
    gw.setLink(gw.node(owner), false);
    try {
      const moved = await onPage(page, 'the address on the other node', async () => {
        const rows = await addressRows(page);
        return rows[GATEWAY_VIP]?.[2] && rows[GATEWAY_VIP]![2] !== owner ? rows[GATEWAY_VIP] : undefined;
      }, 5_000);
      const event = await onPage(page, 'the move on the timeline', async () => (await timeline(page)).find((e) => e.kind === 'address' && e.text.includes('address moved') && e.text.includes(GATEWAY_VIP)));
      // From the move itself (its time in the history) to the page showing it.
      const at = Date.parse(r.running!.api('GET', `/v1/history?address=${GATEWAY_VIP}&kind=address`).json.events.filter((e: { msg: string }) => e.msg === 'address moved').at(-1).at);
      const lag = tLink + moved.ms - at;
      console.log(`status page: node link down → new node on the page after ${moved.ms} ms (${lag} ms after the move); timeline: ${event.value.text}`);
      expect(lag).toBeLessThan(1_000);
      expect(event.value.text).toContain(`${owner} →`);
      expect(event.value.text).toContain('missed');
      const mobile = await run.open(`http://127.0.0.1:${r.running!.port}/`, { width: 390, height: 844 });
      await onPage(mobile, 'rows', async () => Object.keys(await addressRows(mobile)).length >= 1);
      await screenshot(mobile, 'kubernetes-390x844');
      await mobile.close();
    } finally {
      gw.setLink(gw.node(owner), true);
    }
    expect(run.problems).toEqual([]);
    await page.close();
  });
});
