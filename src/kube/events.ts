/**
 * Kubernetes Events on the objects l2lb acts for (core/v1 Event, what `kubectl describe` shows).
 */
import { hostname } from 'node:os';
import type { Service } from './objects.ts';
import { PATHS } from './objects.ts';

/** Event reasons l2lb emits. */
export type EventReason = 'AssignIP' | 'ReleaseIP' | 'AssignIPFailed' | 'NodeChanged';

/** The body of a new Event about a Service. */
export function serviceEvent(svc: Service, reason: EventReason, message: string, now = new Date()): { path: string; body: unknown } {
  const ns = svc.metadata.namespace ?? 'default';
  const time = now.toISOString();
  return {
    path: PATHS.events(ns),
    body: {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: `${svc.metadata.name}.`, namespace: ns },
      involvedObject: {
        apiVersion: 'v1',
        kind: 'Service',
        namespace: ns,
        name: svc.metadata.name,
        uid: svc.metadata.uid,
        resourceVersion: svc.metadata.resourceVersion,
      },
      reason,
      message,
      type: reason === 'AssignIPFailed' ? 'Warning' : 'Normal',
      source: { component: 'l2lb' },
      reportingComponent: 'l2lb',
      reportingInstance: hostname(),
      firstTimestamp: time,
      lastTimestamp: time,
      count: 1,
    },
  };
}
