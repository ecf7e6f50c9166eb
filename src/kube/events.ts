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

/** The object an Event is about. */
interface Involved {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
  uid?: string;
  resourceVersion?: string;
}

/** The body of a new Event about `obj`, in the object's namespace (a cluster-scoped object's go to `default`). */
function event(obj: Involved, reason: string, message: string, type: 'Normal' | 'Warning', now: Date): { path: string; body: unknown } {
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
      type,
      source: { component: 'l2lb' },
      reportingComponent: 'l2lb',
      reportingInstance: hostname(),
      firstTimestamp: time,
      lastTimestamp: time,
      count: 1,
    },
  };
}

/** The body of a new Event about a Service. */
export function serviceEvent(svc: Service, reason: EventReason, message: string, now = new Date()): { path: string; body: unknown } {
  return event({
    apiVersion: 'v1', kind: 'Service', namespace: svc.metadata.namespace ?? 'default', name: svc.metadata.name,
    uid: svc.metadata.uid, resourceVersion: svc.metadata.resourceVersion,
  }, reason, message, reason === 'AssignIPFailed' ? 'Warning' : 'Normal', now);
}

/** The body of a new Event about an Eip (cluster-scoped: the Event lives in `default`, as for Nodes). */
export function eipEvent(eip: Eip, reason: PoolEventReason, message: string, now = new Date()): { path: string; body: unknown } {
  return event({
    apiVersion: 'network.kubesphere.io/v1alpha2', kind: 'Eip', name: eip.metadata.name,
    uid: eip.metadata.uid, resourceVersion: eip.metadata.resourceVersion,
  }, reason, message, reason === 'PoolUsable' ? 'Normal' : 'Warning', now);
}
