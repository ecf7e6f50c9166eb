/**
 * Pool usage for `Eip` status and the admin API, recomputed from allocation results (never stored), so
 * nothing needs a finalizer and a restart loses nothing.
 */
import { type IP, compareIP, parseIP } from '../net/ip.ts';
import type { AllocationResult } from './allocate.ts';
import { compareText } from './order.ts';
import { type Pool, usableText } from './pool.ts';

/** Usage of one pool, in the terms of OpenELB's Eip status. */
export interface PoolUsage {
  /** Usable addresses, exact (the Eip status writer clamps it: int64 and JSON numbers cannot carry 2^64). */
  size: bigint;
  /** Distinct addresses in use (Eip `status.usage`). */
  used: number;
  /** Address -> sorted Service keys using it (Eip `status.used` joins them with ";"). Addresses in numeric order. */
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
    // Parsed once each: a comparator that parses both sides parsed 280,000 times to sort 10,000 addresses.
    const ips = [...byIP.keys()].map((ip) => ({ ip, parsed: parseIP(ip) })).sort(compareParsed).map((e) => e.ip);
    const usedIPs: Record<string, string[]> = {};
    for (const ip of ips) usedIPs[ip] = byIP.get(ip)!.sort(compareText);
    const used = ips.length;
    const free = pool.size - BigInt(used);
    out.set(name, { size: pool.size, used, usedIPs, ...usableText(pool), free: free < 0n ? 0n : free });
  }
  return out;
}

/** Numeric address order; text that is not an address (never produced by allocate) sorts last by text. */
function compareParsed(a: { ip: string; parsed: IP | undefined }, b: { ip: string; parsed: IP | undefined }): number {
  const x = a.parsed, y = b.parsed;
  if (x && y) return compareIP(x, y);
  if (x || y) return x ? -1 : 1;
  return compareText(a.ip, b.ip);
}
