/**
 * When two Services may share one address. OpenELB shares an address with anyone who asks for it; we
 * share only on an explicit opt-in: both carry the same `l2lb.io/allow-shared-ip` key and no port/protocol
 * pair is used by both (otherwise kube-proxy would send one Service's traffic to the other).
 */
import type { ServicePort } from './allocate.ts';

/** What the sharing rule looks at in a Service. */
export interface Sharer {
  readonly key: string;
  /** `l2lb.io/allow-shared-ip`; undefined means "never share" (callers map an empty annotation to undefined). */
  readonly sharingKey: string | undefined;
  readonly ports: readonly ServicePort[];
}

/** The port of `ports` with the same number and protocol as `p`, if any. Port lists are short: a scan is fine. */
function samePort(ports: readonly ServicePort[], p: ServicePort): boolean {
  for (const q of ports) if (q.port === p.port && q.protocol === p.protocol) return true;
  return false;
}

/**
 * Why `claimant` may not use `ip` that `holders` already use, or undefined when it may (no holders, or
 * all of them share the claimant's key and none uses one of its ports). The first holder in the list
 * that blocks is named, so the message is stable for a stable holder order.
 */
export function shareConflict(ip: string, holders: readonly Sharer[], claimant: Sharer): string | undefined {
  for (const h of holders) {
    if (h.key === claimant.key) continue;
    if (claimant.sharingKey === undefined || h.sharingKey !== claimant.sharingKey) {
      return `${ip} is used by ${h.key} without a matching allow-shared-ip key`;
    }
  }
  for (const h of holders) {
    if (h.key === claimant.key) continue;
    for (const p of claimant.ports) {
      if (samePort(h.ports, p)) return `${ip} is shared with ${h.key} but port ${p.port}/${p.protocol} overlaps`;
    }
  }
  return undefined;
}
