/**
 * Timers shared by many VIPs. A start of 10,000 addresses gave each one a timer per probe, one to
 * activate it and one per repeated announcement (60,000 timers and closures, each probe its own message to
 * the receive worker), ~8 MiB of the start's peak at 10,000 Services. Here every item given the same step
 * (a name and a delay) in the same turn of the event loop waits on one timer, and the step runs once, with
 * all of them: one message per link.
 */

/** An item that can wait for steps: {@link Steps.cancel} bumps its generation, and older entries are skipped. */
export interface Steppable {
  stepGen: number;
}

interface Batch<T> {
  readonly items: T[];
  readonly gens: number[];
  timer?: ReturnType<typeof setTimeout>;
}

/** Steps waiting for their time, shared by the items given them in one turn. */
export class Steps<T extends Steppable> {
  /** Batches opened in this turn: later items of the same step join them. Cleared at the end of the turn. */
  readonly #open = new Map<string, Batch<T>>();
  readonly #waiting = new Set<Batch<T>>();

  /**
   * Runs `run` after `delay` ms with `item` and every other item given the same `step` and `delay` in this
   * turn, leaving out those cancelled meanwhile (it is not called when none is left). A step name stands for
   * one `run`: the first one given in a turn is the one called.
   */
  after(step: string, delay: number, item: T, run: (items: T[]) => void): void {
    const key = `${step}@${delay}`;
    let batch = this.#open.get(key);
    if (!batch) {
      if (this.#open.size === 0) queueMicrotask(() => this.#open.clear());
      const b: Batch<T> = { items: [], gens: [] };
      b.timer = setTimeout(() => {
        this.#waiting.delete(b);
        const live = b.items.filter((it, i) => it.stepGen === b.gens[i]);
        if (live.length > 0) run(live);
      }, delay);
      this.#open.set(key, b);
      this.#waiting.add(b);
      batch = b;
    }
    batch.items.push(item);
    batch.gens.push(item.stepGen);
  }

  /** Every step `item` waits for is skipped for it. */
  cancel(item: T): void {
    item.stepGen++;
  }

  /** Clears every timer: nothing runs any more. */
  stop(): void {
    for (const b of this.#waiting) clearTimeout(b.timer);
    this.#waiting.clear();
    this.#open.clear();
  }
}
