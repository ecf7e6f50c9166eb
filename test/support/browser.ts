/**
 * A real browser for the status page tests: Debian's Chromium, headless, driven by puppeteer-core. It runs
 * inside the network namespace of the l2lb it looks at (so `127.0.0.1:<port>` is that l2lb's admin API),
 * and puppeteer talks to it over a pipe (`--remote-debugging-pipe`), which crosses namespaces where a
 * debugging port would not. Headless Chromium as root needs `--no-sandbox`.
 *
 * Every console message of level error or warning, page error and failed request is collected, so a test
 * can assert there were none.
 */
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { ROOT } from './l2lb.ts';
import { tempDir } from './tmp.ts';

/** Where Debian's chromium package puts the browser. */
export const CHROMIUM = '/usr/bin/chromium';
/** Screenshots land here (ignored by git; CI keeps them as artifacts). */
export const ARTIFACTS = join(ROOT, 'test/artifacts');

/** A browser in a namespace and what went wrong in its pages. */
export interface BrowserRun {
  browser: Browser;
  /** Console errors and warnings, page errors, failed requests and HTTP errors (status ≥ 400). */
  problems: string[];
  /** Every response the pages got: URL, status, body size in bytes. */
  responses: { url: string; status: number; bytes: number }[];
  open(url: string, viewport?: { width: number; height: number }, dark?: boolean): Promise<Page>;
  close(): Promise<void>;
}

/** Starts Chromium inside `ns`. */
export async function startBrowser(ns: string): Promise<BrowserRun> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
  const dir = tempDir('l2lb-browser-');
  // puppeteer starts "the browser"; this wrapper starts it inside the namespace with the same arguments.
  const wrapper = join(dir, 'chromium-in-ns');
  writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${ns} ${CHROMIUM} "$@"\n`);
  chmodSync(wrapper, 0o755);
  const browser = await puppeteer.launch({
    executablePath: wrapper,
    pipe: true,
    headless: true,
    userDataDir: join(dir, 'profile'),
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--disable-background-networking', '--disable-component-update'],
  });
  const problems: string[] = [];
  const responses: BrowserRun['responses'] = [];
  return {
    browser, problems, responses,
    async open(url, viewport = { width: 1280, height: 800 }, dark = false) {
      const page = await browser.newPage();
      await page.setViewport(viewport);
      await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: dark ? 'dark' : 'light' }]);
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warn') problems.push(`console ${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`page error: ${(e as Error).message}`));
      page.on('requestfailed', (r) => {
        // An event stream torn down when the page closes is not a failure of the page.
        if (!(r.url().includes('/v1/events') && r.failure()?.errorText === 'net::ERR_ABORTED')) problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
      });
      page.on('response', (r) => {
        const bytes = Number(r.headers()['content-length'] ?? NaN);
        responses.push({ url: r.url(), status: r.status(), bytes });
        if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
      });
      await page.goto(url, { waitUntil: 'domcontentloaded' });
      return page;
    },
    async close() {
      await browser.close().catch(() => {});
    },
  };
}

/**
 * Saves a screenshot under test/artifacts/ and returns how many distinct colours it has: a blank or
 * unstyled page has a handful, a rendered status page hundreds (anti-aliased text).
 */
export async function screenshot(page: Page, name: string): Promise<{ path: string; colours: number }> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: false });
  const colours = await page.evaluate(async (src: string) => {
    const img = new Image();
    img.src = src;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width;
    c.height = img.height;
    const ctx = c.getContext('2d')!;
    ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    const seen = new Set<number>();
    for (let i = 0; i < d.length; i += 4 * 7) seen.add((d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!);
    return seen.size;
  }, `data:image/png;base64,${(await page.screenshot({ encoding: 'base64' })) as string}`);
  return { path, colours };
}
