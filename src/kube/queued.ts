/**
 * The writes the Service controller queues ({@link Writer}): what was decided, made into a request only when
 * the write runs.
 *
 * At start every Service's address waits in the queue behind the server's pace (10,000 writes take ~10 s),
 * and every AssignIP Event behind them. As closures over the decision's scope, with their request bodies
 * built, they held ~1 KB each (5 scopes, 2 functions, a Date and a dozen objects per Service, measured in a
 * heap census at 10,000): 9.5 MiB of the heap at the start's peak. Each is one object here.
 */
import type { Logger } from '../log.ts';
import type { KubeClient } from './client.ts';
import { type EventReason, type Involved, type PoolEventReason, eipRef, eventOn, serviceRef } from './events.ts';
import { ANNOTATION_POOL, ANNOTATION_SERVING, type Eip, PATHS, type Service } from './objects.ts';
import type { Write } from './writer.ts';

type Condition = NonNullable<NonNullable<Service['status']>['conditions']>[number];

/** What the queued writes share with the controller that made them. */
export interface WriteSink {
  readonly client: Pick<KubeClient, 'patch' | 'create'>;
  readonly log: Logger;
  /** Writes sent whose echo the watch has not shown yet: key -> version written against, and what. */
  readonly written: Map<string, { baseRV?: string; fingerprint: string }>;
  readonly counts: { statusWrites: number };
}

/** A Service's status (and our label and annotation on it) as decided, against the version it was decided on. */
export interface StatusChange {
  /** The ingress addresses; undefined: unchanged. */
  ips?: string[];
  /** Our pool label (null: remove it); undefined: unchanged. */
  pool?: string | null;
  /** The serving annotation (null: remove it); undefined: unchanged. */
  serving?: string | null;
  /** The Service's whole condition list (a merge patch replaces a list); undefined: unchanged. */
  conditions?: Condition[];
}

/**
 * Writes one Service's status subresource with a merge patch against the resourceVersion the decision saw
 * (a 409 means the Service changed meanwhile: the controller decides again).
 */
export class StatusWrite implements Write {
  constructor(
    readonly key: string,
    readonly fingerprint: string,
    private readonly sink: WriteSink,
    private readonly svc: Service,
    private readonly change: StatusChange,
  ) {}

  run(): Promise<void> {
    const { svc, change } = this;
    this.sink.counts.statusWrites++;
    this.sink.written.set(this.key, { baseRV: svc.metadata.resourceVersion, fingerprint: this.fingerprint });
    return this.sink.client.patch(PATHS.serviceStatus(svc.metadata.namespace ?? 'default', svc.metadata.name), statusPatch(svc, change), 'merge', { discard: true });
  }
}

/**
 * The merge patch of a {@link StatusChange}. The API server keeps metadata changes made through a Service's
 * status (it resets only spec), so one write carries the label, the annotation and the status.
 */
export function statusPatch(svc: Service, change: StatusChange): unknown {
  const status = {
    ...(change.ips ? { loadBalancer: { ingress: change.ips.map((ip) => ({ ip, ipMode: 'VIP' })) } } : {}),
    // The others' conditions are written back as read (the resourceVersion makes that safe).
    ...(change.conditions ? { conditions: change.conditions } : {}),
  };
  return {
    metadata: {
      resourceVersion: svc.metadata.resourceVersion,
      ...(change.pool !== undefined ? { labels: { [ANNOTATION_POOL]: change.pool } } : {}),
      ...(change.serving !== undefined ? { annotations: { [ANNOTATION_SERVING]: change.serving } } : {}),
    },
    ...(change.ips || change.conditions ? { status } : {}),
  };
}

/** What an Event is about. */
export type EventSubject =
  | { kind: 'Service'; svc: Service; reason: EventReason }
  | { kind: 'Eip'; eip: Eip; reason: PoolEventReason };

/**
 * Records one Event. Low priority: Events wait while any address is queued, so they never get ahead of the
 * addresses they describe nor delay one. A failure is logged, not retried: an Event is a courtesy.
 */
export class EventWrite implements Write {
  readonly priority = 'low';
  /** The reference only: the object the subject named is not kept while the Event waits (see {@link Involved}). */
  private readonly involved: Involved;
  private readonly reason: EventReason | PoolEventReason;

  constructor(
    readonly key: string,
    private readonly sink: WriteSink,
    subject: EventSubject,
    private readonly message: string,
    /** When it happened (ms since the epoch): the Event says so, not when the queue let it out. */
    private readonly at: number,
  ) {
    this.involved = subject.kind === 'Service' ? serviceRef(subject.svc) : eipRef(subject.eip);
    this.reason = subject.reason;
  }

  /** Each Event is its own write: the key is unique, so it is its own fingerprint. */
  get fingerprint(): string {
    return this.key;
  }

  async run(): Promise<void> {
    try {
      const ev = eventOn(this.involved, this.reason, this.message, new Date(this.at));
      await this.sink.client.create(ev.path, ev.body, { discard: true });
    } catch (err) {
      this.sink.log.warn('event not recorded', { reason: this.reason, error: (err as Error).message });
    }
  }
}
