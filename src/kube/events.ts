/**
 * Kubernetes Events on the objects l2lb acts for (core/v1 Event, what `kubectl describe` shows).
 */
import { hostname } from 'node:os';
import type { Eip, Service } from './objects.ts';
import { PATHS } from './objects.ts';

/** Event reasons l2lb emits on a Service. */
export type EventReason = 'AssignIP' | 'ReleaseIP' | 'AssignIPFailed' | 'NodeChanged';

/** Event reasons l2lb emits on an Eip: what the pool leaves out, or why it cannot be used at all. */
export type PoolEventReason = 'PoolAddressesSkipped' | 'PoolUnusable' | 'PoolUsable';

/**
 * The object an Event is about: what `involvedObject` names. A queued Event keeps only this, not the object it
 * was made from: 10,000 AssignIP Events waiting behind the status writes kept 10,000 superseded Service
 * versions alive (~10 MiB at the end of a start, issue 14).
 */
export interface Involved {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
  uid?: string;
  resourceVersion?: string;
}

/** The reasons that make a Warning; every other is Normal. */
const WARNINGS: ReadonlySet<EventReason | PoolEventReason> = new Set(['AssignIPFailed', 'PoolAddressesSkipped', 'PoolUnusable']);

/** A Service as an Event's `involvedObject`. */
export function serviceRef(svc: Service): Involved {
  const m = svc.metadata;
  return { apiVersion: 'v1', kind: 'Service', namespace: m.namespace ?? 'default', name: m.name, uid: m.uid, resourceVersion: m.resourceVersion };
}

/** An Eip as an Event's `involvedObject` (cluster-scoped: the Event lives in `default`, as for Nodes). */
export function eipRef(eip: Eip): Involved {
  const m = eip.metadata;
  return { apiVersion: 'network.kubesphere.io/v1alpha2', kind: 'Eip', name: m.name, uid: m.uid, resourceVersion: m.resourceVersion };
}

/** The body of a new Event about `obj`, in the object's namespace (a cluster-scoped object's go to `default`). */
export function eventOn(obj: Involved, reason: EventReason | PoolEventReason, message: string, now = new Date()): { path: string; body: unknown } {
  const ns = obj.namespace ?? 'default';
  const time = now.toISOString();
  return {
    path: PATHS.events(ns),
    body: {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: `${obj.name}.`, namespace: ns },
      involvedObject: obj,
      reason,
      message,
      type: WARNINGS.has(reason) ? 'Warning' : 'Normal',
      source: { component: 'l2lb' },
      reportingComponent: 'l2lb',
      reportingInstance: hostname(),
      firstTimestamp: time,
      lastTimestamp: time,
      count: 1,
    },
  };
}
