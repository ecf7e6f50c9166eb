/**
 * Per-node mode: whether the instances agree on who serves what. Every instance's heartbeat carries the
 * digest of the addresses it answers (`vipDigest`); every other instance knows which addresses it expects
 * that node to answer, digests them the same way, and compares. A difference that outlives the time views
 * need to settle is a disagreement: two nodes answering one address, or none. Pure, with the clock passed
 * in.
 */
import { formatIP, parseIP } from '../net/ip.ts';
import { vipDigest } from '../wire/heartbeat.ts';
import type { Serving } from './ownership.ts';

/** What one node's instance says of itself in its heartbeats. */
export interface PeerDigest {
  /** Hex digest of the addresses it answers. */
  digest: string;
  /** Heard within its expiry. */
  live: boolean;
  /** Answers nothing now (listening): nothing to compare. */
  fenced: boolean;
}

/** One node's agreement with our view. */
export interface NodeAgreement {
  node: string;
  /** The addresses we expect it to answer. */
  expected: number;
  /** Its digest equals ours of `expected`. */
  agrees: boolean;
  /** Since when it has differed (ms since the epoch), while it does. */
  since?: number;
}

/** The canonical text of an address as the announcer keys it (and so as heartbeats digest it). */
function canonical(ip: string): string {
  const p = parseIP(ip);
  return p ? formatIP(p) : ip;
}

/** The addresses each node serves in `serving`, canonical and sorted, by node. */
export function servedBy(serving: ReadonlyMap<string, Serving>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [ip, s] of serving) {
    if (s.node === undefined) continue;
    let list = out.get(s.node);
    if (!list) out.set(s.node, (list = []));
    list.push(canonical(ip));
  }
  for (const list of out.values()) list.sort();
  return out;
}

/**
 * Compares what live, unfenced peers say they answer with what `serving` gives them. `self` is left out
 * (we answer what we decide). A peer not heard, or fenced, is not judged.
 */
export function compareDigests(serving: ReadonlyMap<string, Serving>, peers: ReadonlyMap<string, PeerDigest>, self: string): NodeAgreement[] {
  const served = servedBy(serving);
  const out: NodeAgreement[] = [];
  for (const [node, p] of peers) {
    if (node === self || !p.live || p.fenced) continue;
    const mine = served.get(node) ?? [];
    const hex = Buffer.from(vipDigest(mine)).toString('hex');
    out.push({ node, expected: mine.length, agrees: hex === p.digest });
  }
  return out.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
}

/**
 * Differences that last: a peer's digest lags a move by up to a heartbeat interval and a decision, so
 * only a difference older than `settleMs` counts as a disagreement.
 */
export class AgreementTracker {
  readonly #since = new Map<string, number>();
  /** Disagreements reported so far (each counted once, when it first outlives `settleMs`). */
  disagreements = 0;
  readonly #reported = new Set<string>();

  constructor(readonly settleMs: number) {}

  /**
   * Takes one comparison at `now`; returns every node with `since` set where it differs, and the nodes
   * whose difference has just outlived `settleMs` (`started`) or just ended after being reported (`ended`).
   */
  update(now: number, compared: readonly NodeAgreement[]): { nodes: NodeAgreement[]; started: string[]; ended: string[] } {
    const seen = new Set<string>();
    const started: string[] = [];
    const ended: string[] = [];
    const nodes = compared.map((a) => {
      seen.add(a.node);
      if (a.agrees) {
        this.#since.delete(a.node);
        if (this.#reported.delete(a.node)) ended.push(a.node);
        return a;
      }
      const since = this.#since.get(a.node) ?? now;
      this.#since.set(a.node, since);
      return { ...a, since };
    });
    for (const node of [...this.#since.keys()]) {
      if (seen.has(node)) continue;
      this.#since.delete(node);
      if (this.#reported.delete(node)) ended.push(node);
    }
    for (const [node, since] of this.#since) {
      if (now - since >= this.settleMs && !this.#reported.has(node)) {
        this.#reported.add(node);
        this.disagreements++;
        started.push(node);
      }
    }
    return { nodes, started, ended };
  }

  /** Nodes in lasting disagreement now. */
  lasting(now: number): string[] {
    return [...this.#since].filter(([, since]) => now - since >= this.settleMs).map(([node]) => node).sort();
  }

  /** When the earliest current difference will have lasted `settleMs` (undefined: none pending). */
  dueAt(): number | undefined {
    let at: number | undefined;
    for (const [node, since] of this.#since) {
      if (this.#reported.has(node)) continue;
      const due = since + this.settleMs;
      if (at === undefined || due < at) at = due;
    }
    return at;
  }
}
