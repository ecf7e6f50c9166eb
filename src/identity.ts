/**
 * The default name of this process among its peers (Lease holder, heartbeat sender): `HOSTNAME_PID`, as
 * client-go tools use: unique per process, readable in `kubectl get lease` and in `/v1/status`.
 */
import { hostname } from 'node:os';

/** `HOSTNAME_PID`. */
export function defaultIdentity(): string {
  return `${hostname()}_${process.pid}`;
}
