/** Shared step timers: one timer per step and turn, cancelled items left out, nothing after stop. */
import { describe, expect, test } from 'bun:test';
import { type Steppable, Steps } from '../../src/announce/steps.ts';

interface Item extends Steppable {
  name: string;
}
const item = (name: string): Item => ({ name, stepGen: 0 });
const names = (items: Item[]) => items.map((i) => i.name);

describe('Steps', () => {
  test('items given the same step in one turn run together, once; another delay or step is another batch', async () => {
    const steps = new Steps<Item>();
    const runs: string[][] = [];
    const a = item('a');
    const b = item('b');
    const c = item('c');
    steps.after('probe', 20, a, (xs) => runs.push(['probe20', ...names(xs)]));
    steps.after('probe', 20, b, (xs) => runs.push(['never: the first run of the step is called', ...names(xs)]));
    steps.after('probe', 40, a, (xs) => runs.push(['probe40', ...names(xs)]));
    steps.after('done', 20, c, (xs) => runs.push(['done20', ...names(xs)]));
    await Bun.sleep(80);
    expect(runs).toEqual([['probe20', 'a', 'b'], ['done20', 'c'], ['probe40', 'a']]);
  });

  test('a later turn opens a new batch with its own time', async () => {
    const steps = new Steps<Item>();
    const runs: { names: string[]; at: number }[] = [];
    const t0 = performance.now();
    const run = (xs: Item[]) => runs.push({ names: names(xs), at: performance.now() - t0 });
    steps.after('s', 50, item('first'), run);
    await Bun.sleep(30);
    steps.after('s', 50, item('second'), run);
    await Bun.sleep(100);
    expect(runs.map((r) => r.names)).toEqual([['first'], ['second']]);
    // the second waited its own 50 ms, not the rest of the first's
    expect(runs[1]!.at).toBeGreaterThanOrEqual(78);
  });

  test('cancel leaves an item out of every step it waits for; given a step again, it runs in that one only', async () => {
    const steps = new Steps<Item>();
    const runs: string[][] = [];
    const a = item('a');
    const b = item('b');
    steps.after('x', 10, a, (xs) => runs.push(names(xs)));
    steps.after('x', 10, b, (xs) => runs.push(names(xs)));
    steps.after('y', 30, b, (xs) => runs.push(['y', ...names(xs)]));
    steps.cancel(b);
    steps.after('y', 30, b, (xs) => runs.push(['y', ...names(xs)]));
    steps.cancel(a);
    steps.after('z', 10, a, (xs) => runs.push(['z', ...names(xs)]));
    steps.cancel(a);
    await Bun.sleep(60);
    // x: a and b cancelled, so x does not run at all; y: b once (its first entry was cancelled); z: nobody
    expect(runs).toEqual([['y', 'b']]);
  });

  test('stop: nothing runs afterwards', async () => {
    const steps = new Steps<Item>();
    let ran = 0;
    steps.after('x', 10, item('a'), () => ran++);
    steps.after('x', 0, item('b'), () => ran++);
    steps.stop();
    await Bun.sleep(40);
    expect(ran).toBe(0);
  });
});
