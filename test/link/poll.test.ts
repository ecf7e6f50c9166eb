/**
 * Poller and Wakeup: poll() timeouts, eventfd readiness, and waking a Worker that is blocked in
 * poll(-1) from the main thread (the receive worker's shutdown and reconfiguration path).
 * Needs no privileges: eventfds only.
 */
import { describe, expect, test } from 'bun:test';
import { libc } from '../../src/runtime/ffi.ts';
import { Poller, PollEvents, Wakeup } from '../../src/link/poll.ts';
import { LinkError } from '../../src/link/errors.ts';
import type { PollWorkerIn, PollWorkerOut } from './fixtures/poll-worker.ts';

function startWorker(): { worker: Worker; next: () => Promise<PollWorkerOut> } {
  const worker = new Worker(new URL('./fixtures/poll-worker.ts', import.meta.url).href, { type: 'module' });
  const queue: PollWorkerOut[] = [];
  const waiters: ((m: PollWorkerOut) => void)[] = [];
  worker.onmessage = (ev: MessageEvent<PollWorkerOut>) => {
    const w = waiters.shift();
    if (w) w(ev.data);
    else queue.push(ev.data);
  };
  const next = () => {
    const m = queue.shift();
    if (m) return Promise.resolve(m);
    return new Promise<PollWorkerOut>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('worker did not answer within 5s')), 5000);
      waiters.push((msg) => (clearTimeout(t), resolve(msg)));
    });
  };
  return { worker, next };
}

describe('Poller', () => {
  test('wait() honours its timeout and returns [] when nothing is ready', () => {
    const lib = libc();
    const wake = Wakeup.create(lib);
    try {
      const poller = new Poller(lib);
      poller.set([wake.fd]);
      let t0 = performance.now();
      expect(poller.wait(0)).toEqual([]);
      expect(performance.now() - t0).toBeLessThan(50);
      t0 = performance.now();
      expect(poller.wait(150)).toEqual([]);
      const elapsed = performance.now() - t0;
      expect(elapsed).toBeGreaterThanOrEqual(140);
      expect(elapsed).toBeLessThan(1000);
    } finally {
      wake.close();
    }
  });

  test('a signalled eventfd is reported with POLLIN until drained; signals add up', () => {
    const lib = libc();
    const a = Wakeup.create(lib);
    const b = Wakeup.create(lib);
    try {
      const poller = new Poller(lib);
      poller.set([a.fd, b.fd]);
      b.signal();
      expect(poller.wait(1000)).toEqual([b.fd]);
      expect(poller.revents(b.fd) & PollEvents.POLLIN).toBe(PollEvents.POLLIN);
      expect(poller.revents(a.fd)).toBe(0);
      a.signal();
      a.signal();
      a.signal();
      expect(poller.wait(0)).toEqual([a.fd, b.fd]);
      expect(a.drain()).toBe(3);
      expect(b.drain()).toBe(1);
      expect(a.drain()).toBe(0);
      expect(poller.wait(0)).toEqual([]);
    } finally {
      a.close();
      b.close();
    }
  });

  test('a closed fd is reported (POLLNVAL) instead of blocking forever', () => {
    const lib = libc();
    const w = Wakeup.create(lib);
    const fd = w.fd;
    w.close();
    w.close();
    const poller = new Poller(lib);
    poller.set([fd]);
    expect(poller.wait(1000)).toEqual([fd]);
    expect(poller.revents(fd) & PollEvents.POLLNVAL).toBe(PollEvents.POLLNVAL);
    expect(() => w.signal()).toThrow(LinkError);
  });
});

describe('Wakeup across threads', () => {
  test('a signal from the main thread wakes a Worker blocked in poll(-1)', async () => {
    const lib = libc();
    const wake = Wakeup.create(lib);
    const { worker, next } = startWorker();
    try {
      worker.postMessage({ fd: wake.fd, timeoutMs: -1 } satisfies PollWorkerIn);
      expect(await next()).toEqual({ type: 'blocking', fd: wake.fd });
      await Bun.sleep(200); // let it sit in poll()
      wake.signal();
      const woke = await next();
      expect(woke.type).toBe('woke');
      if (woke.type !== 'woke') return;
      expect(woke.ready).toEqual([wake.fd]);
      expect(woke.elapsedMs).toBeGreaterThanOrEqual(150); // it really was blocked
      expect(woke.drained).toBe(1);
      expect(woke.afterDrain).toEqual([]);
    } finally {
      worker.terminate();
      wake.close();
    }
  });

  test('the main thread can wake a Worker through an eventfd the Worker created (fromFd)', async () => {
    const { worker, next } = startWorker();
    try {
      worker.postMessage({ create: true, timeoutMs: -1 } satisfies PollWorkerIn);
      const blocking = await next();
      if (blocking.type !== 'blocking') throw new Error('unexpected message');
      await Bun.sleep(100);
      const handle = Wakeup.fromFd(libc(), blocking.fd);
      handle.signal();
      const woke = await next();
      expect(woke).toMatchObject({ type: 'woke', ready: [blocking.fd], drained: 1 });
      handle.close(); // not the owner: must not close the worker's fd
    } finally {
      worker.terminate();
    }
  });
});
