/**
 * The serving record: annotation `l2lb.io/serving-node` on a Service, `ip=node,...`, written by the leader
 * (the gateway model) or the writer of the per-node mode, and read by every instance as the shared record of
 * which node serves each address.
 */
import { type Service, ANNOTATION_SERVING } from './objects.ts';

/** The nodes recorded on a Service by the leader that last served it (annotation `ip=node,...`), added to `out`. */
export function servingNodes(svc: Service, out = new Map<string, string>()): Map<string, string> {
  for (const part of (svc.metadata.annotations?.[ANNOTATION_SERVING] ?? '').split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) out.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return out;
}

/** `servingNodes(svc).get(ip)` without a Map: the serving record is read per address on every pass. */
export function recordedNode(svc: Service, ip: string): string | undefined {
  const text = svc.metadata.annotations?.[ANNOTATION_SERVING];
  if (!text) return undefined;
  // Written by hand with spaces: servingNodes trims them.
  if (/\s/.test(text)) return servingNodes(svc).get(ip);
  let found: string | undefined;
  for (let start = 0; start < text.length;) {
    let end = text.indexOf(',', start);
    if (end < 0) end = text.length;
    const eq = start + ip.length;
    // The last entry for an address counts, as in servingNodes.
    if (eq < end && text.charCodeAt(eq) === 61 /* = */ && text.startsWith(ip, start)) found = text.slice(eq + 1, end);
    start = end + 1;
  }
  return found;
}
