/**
 * Pool usage for `Eip` status and the admin API, recomputed from allocation results (never stored), so
 * nothing needs a finalizer and a restart loses nothing.
 */
import type { AllocationResult } from './allocate.ts';
import { compareText } from './order.ts';
import { type Pool, usableText } from './pool.ts';

/** Usage of one pool, in the terms of OpenELB's Eip status. */
export interface PoolUsage {
  /** Usable addresses, exact (the Eip status writer clamps it: int64 and JSON numbers cannot carry 2^64). */
  size: bigint;
  /** Distinct addresses in use (Eip `status.usage`). */
  used: number;
  /**
   * Address -> sorted Service keys using it (Eip `status.used` joins them with ";"). Addresses in no
   * particular order: the Eip status orders its own, and ordering 10,000 addresses here cost every pass and
   * every /metrics scrape ~40 ms at 10,000 Services for a view that never read the order.
   */
  usedIPs: Record<string, string[]>;
  /** First and last usable address; "" when the pool's address does not parse. */
  firstIP: string;
  lastIP: string;
  /** size - used; `occupied` is free === 0n. */
  free: bigint;
}

/**
 * Usage of every pool by name. When two pools share a name (the newer is unusable), the entry is the
 * one allocation resolves the name to: the usable one, else the first listed.
 */
export function poolUsage(pools: Pool[], results: Map<string, AllocationResult>): Map<string, PoolUsage> {
  const owner = new Map<string, Pool>();
  for (const pool of pools) {
    const seen = owner.get(pool.spec.name);
    if (!seen || (!seen.usable && pool.usable)) owner.set(pool.spec.name, pool);
  }
  const users = new Map<string, Map<string, string[]>>();
  for (const [key, r] of results) {
    if (!r.ok) continue;
    for (const a of r.addresses) {
      if (!owner.has(a.pool)) continue;
      let byIP = users.get(a.pool);
      if (!byIP) users.set(a.pool, (byIP = new Map()));
      const keys = byIP.get(a.ip);
      if (keys) keys.push(key);
      else byIP.set(a.ip, [key]);
    }
  }
  const out = new Map<string, PoolUsage>();
  for (const [name, pool] of owner) {
    const byIP = users.get(name) ?? new Map<string, string[]>();
    const usedIPs: Record<string, string[]> = {};
    for (const [ip, keys] of byIP) usedIPs[ip] = keys.sort(compareText);
    const used = byIP.size;
    const free = pool.size - BigInt(used);
    out.set(name, { size: pool.size, used, usedIPs, ...usableText(pool), free: free < 0n ? 0n : free });
  }
  return out;
}
