/**
 * What the failover benches (`failover.ts`, `pernode.ts`) read off a scenario and off a running replica:
 * millisecond samples summarized with p95, a table row, a metric from `/metrics`, the replica's pid.
 */
import type { Replica } from '../support/gateway.ts';
import { type Summary, summarize } from './stats.ts';
import { findPids } from './proc.ts';
import { metricSum } from '../support/metrics.ts';

/** Samples in ms and their summary. */
export interface Scenario {
  runs: number;
  summary: Summary & { p95: number };
  samples: number[];
}

/** Summarizes millisecond samples (nearest-rank p95). */
export function ms(samples: number[]): Scenario {
  const sorted = [...samples].sort((a, b) => a - b);
  const p95 = sorted.length ? sorted[Math.min(sorted.length, Math.ceil(0.95 * sorted.length)) - 1]! : NaN;
  return { runs: samples.length, summary: { ...summarize(samples), p95 }, samples: samples.map((x) => Math.round(x * 10) / 10) };
}

/** One table row: runs, min, p50, p95, max. */
export function fmt(s: Scenario): string {
  const f = (x: number) => x.toFixed(0).padStart(6);
  return `${String(s.runs).padStart(4)} ${f(s.summary.min)} ${f(s.summary.p50)} ${f(s.summary.p95)} ${f(s.summary.max)}`;
}

/** A counter or gauge from a replica's /metrics (the sum over label sets whose text includes `labels`, e.g. `reason="x"`). */
export function metric(r: Replica, name: string, labels = ''): number {
  const pairs = Object.fromEntries([...labels.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
  return metricSum(r.running?.api('GET', '/metrics').text ?? '', name, pairs);
}

/** The pid of a running replica (found by its directory on the command line). */
export function pidOf(r: Replica): number {
  const pids = findPids(r.running!.dir);
  if (pids.length !== 1) throw new Error(`${r.name}: ${pids.length} processes with ${r.running!.dir}`);
  return pids[0]!;
}
