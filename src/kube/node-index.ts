/**
 * Node names by InternalIP and by wire identity: the lookups that events from the wire make (a probe result
 * names an address, a peer's announcement a MAC). A scan of every Node per event was quadratic at scale:
 * at 5,000 Nodes one probe round held the main thread ~2 s, and 10,000 addresses announced by other
 * instances (a per-node cluster's rolling restart) ~6 s, against ~10 ms with the index
 * (`test/bench/lookups.ts`).
 */
import { wireIdentity } from '../announce/membership.ts';
import type { Node } from './objects.ts';
import { nodeInfo } from './selection.ts';

/** Node names by InternalIP and by wire identity (`wireIdentity(name)`). */
export interface NodeIndex {
  byIP: ReadonlyMap<string, string>;
  byWire: ReadonlyMap<string, string>;
}

/** Indexes `nodes`; an address two Nodes list is the first's (a misconfiguration the pools report anyway). */
export function indexNodes(nodes: Iterable<Node>): NodeIndex {
  const byIP = new Map<string, string>();
  const byWire = new Map<string, string>();
  for (const n of nodes) {
    const name = n.metadata.name;
    for (const ip of nodeInfo(n).internalIPs) if (!byIP.has(ip)) byIP.set(ip, name);
    byWire.set(wireIdentity(name), name);
  }
  return { byIP, byWire };
}
