/**
 * Node names by InternalIP and by wire identity: the lookups that events from the wire make (a probe result
 * names an address, a peer's announcement a MAC). A scan of every Node per event was quadratic at scale:
 * at 5,000 Nodes one probe round held the main thread ~2 s, and 10,000 addresses announced by other
 * instances (a per-node cluster's rolling restart) ~6 s, against ~10 ms with the index
 * (`test/bench/lookups.ts`).
 */
import { wireIdentity } from '../announce/membership.ts';
import { type NodeInfo, parsedAddresses } from '../announce/nodes.ts';
import type { IP } from '../net/ip.ts';
import type { Node } from './objects.ts';
import { nodeInfo } from './selection.ts';

/**
 * Node names by InternalIP and by wire identity (`wireIdentity(name)`), and what every pass reads of the
 * Nodes: worked out once per change of the Nodes, not on every pass (at 5,000 Nodes each pass made
 * ~10,000 objects from them, twice).
 */
export interface NodeIndex {
  byIP: ReadonlyMap<string, string>;
  byWire: ReadonlyMap<string, string>;
  /** {@link nodeInfo} of every Node, in list order. Shared: nothing may change them. */
  infos: readonly NodeInfo[];
  /** Every Node's InternalIPs, parsed, with who owns each in words (addresses pools must not hand out). */
  hostAddresses: readonly { ip: IP; text: string; owner: string }[];
}

/** Indexes `nodes`; an address two Nodes list is the first's (a misconfiguration the pools report anyway). */
export function indexNodes(nodes: Iterable<Node>): NodeIndex {
  const byIP = new Map<string, string>();
  const byWire = new Map<string, string>();
  const infos: NodeInfo[] = [];
  const hostAddresses: { ip: IP; text: string; owner: string }[] = [];
  for (const n of nodes) {
    const name = n.metadata.name;
    const info = nodeInfo(n);
    infos.push(info);
    for (const text of info.internalIPs) if (!byIP.has(text)) byIP.set(text, name);
    // The same parse the node choice reads on every pass: made here, once per change of the Nodes.
    for (const a of parsedAddresses(info)) hostAddresses.push({ ip: a.ip, text: a.text, owner: `InternalIP of node ${name}` });
    byWire.set(wireIdentity(name), name);
  }
  return { byIP, byWire, infos, hostAddresses };
}
