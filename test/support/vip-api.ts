/**
 * The standalone VIP API's parts for tests of the admin API (test/api/app.test.ts, test/api/openapi.test.ts):
 * a real state file, VIP store and announcer on a fake eth0, and the `put`/`delete` the app wires to them.
 */
import { ApiError } from '../../src/api/app.ts';
import { Announcer } from '../../src/announce/announcer.ts';
import type { LinkSpec } from '../../src/link/protocol.ts';
import { createLogger } from '../../src/log.ts';
import { VipStore } from '../../src/standalone/store.ts';

const TIMING = { gratuitousCount: 1, gratuitousInterval: 10, refreshInterval: 0, confirmInterval: 0, replyLimit: 0, probeCount: 0, probeInterval: 10, probeWait: 10 };

/** A store over `statePath` holding `vips`, announced on eth0 (up, socket open); `links` records every table sent. */
export function standaloneVips(vips: ConstructorParameters<typeof VipStore>[0], statePath: string) {
  const store = new VipStore(vips, statePath);
  store.load();
  const links: LinkSpec[][] = [];
  const announcer = new Announcer(TIMING, ['eth0'], { setLinks: (l) => links.push(l), send: () => {} }, createLogger({ level: 'error', format: 'json' }, () => {}));
  announcer.setInterface('eth0', { name: 'eth0', index: 2, mac: '02:00:00:00:00:01', mtu: 1500, up: true, running: true, addresses: [] });
  announcer.setSocket('eth0', true);
  announcer.setVips(store.effective());
  /** Runs a store change as the app does: a state-file failure is a 503, and the announcer follows. */
  const mutate = <T>(fn: () => T): T => {
    let r: T;
    try {
      r = fn();
    } catch (err) {
      throw new ApiError(503, 'state-file', (err as Error).message);
    }
    announcer.setVips(store.effective());
    return r;
  };
  return {
    store, announcer, links,
    put: (ip: string, body: { interface?: string; mac?: string }) => mutate(() => store.put(ip, body)),
    delete: (ip: string) => mutate(() => store.delete(ip)),
  };
}
