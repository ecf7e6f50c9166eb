/**
 * Standalone mode's VIP store: the VIPs of the config file with the changes made through the API laid over
 * them. The API's changes are kept in the state file, so they survive a restart while edits to the config
 * file still take effect: the file holds only what the API set or deleted, never a copy of the config.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DesiredVip } from '../announce/announcer.ts';
import type { VipConfig } from '../config/schema.ts';
import { formatIP, parseIP } from '../net/ip.ts';
import { parseMAC } from '../net/mac.ts';

/** What the state file holds. */
export interface StateData {
  version: 1;
  /** VIPs set through the API, by canonical address. */
  vips: Record<string, { interface?: string; mac?: string }>;
  /** Config-file VIPs deleted through the API. */
  deleted: string[];
}

/** The state file exists but cannot be used; it is left as it is for the operator to inspect. */
export class StateFileError extends Error {
  constructor(readonly path: string, readonly reason: string) {
    super(`state file ${path} is unusable: ${reason}; l2lb will not overwrite it: fix or remove it (l2lb reads it again at the next change)`);
    this.name = 'StateFileError';
  }
}

/**
 * A change that could not be saved (disk full, read-only file system, no permission): it was not made, and
 * the last saved state stays in force on disk and in memory. The message names no path (it goes to API
 * clients); `path` is for the log.
 */
export class StateWriteError extends Error {
  constructor(readonly path: string, cause: unknown) {
    const code = (cause as NodeJS.ErrnoException).code;
    super(`the state file could not be written (${code ?? (cause as Error).message}${code ? `: ${WRITE_ERRORS[code] ?? 'write failed'}` : ''}): the change was not made; the last saved state stays in force, and the next change tries again`);
    this.name = 'StateWriteError';
  }
}

const WRITE_ERRORS: Record<string, string> = {
  ENOSPC: 'no space left on the device', EDQUOT: 'disk quota exceeded', EROFS: 'read-only file system',
  EACCES: 'permission denied', EPERM: 'operation not permitted', EIO: 'I/O error', ENOTDIR: 'a directory of the path is a file',
};

/** The VIP set of standalone mode. */
export class VipStore {
  private state: StateData = { version: 1, vips: {}, deleted: [] };
  /** Set when the state file could not be read: mutations are refused so nothing in it is lost. */
  error?: StateFileError;

  constructor(private config: VipConfig[], private readonly path: string) {}

  /** Replaces the VIPs from the config file (a reload); what the API changed stays as it is. */
  setConfigured(config: VipConfig[]): void {
    this.config = config;
  }

  /** Reads the state file (absent is fine). A corrupt file is reported through `error`, not thrown. */
  load(): void {
    if (!this.path) return;
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      this.error = new StateFileError(this.path, (err as Error).message);
      return;
    }
    try {
      this.state = parseState(JSON.parse(text));
    } catch (err) {
      this.error = new StateFileError(this.path, (err as Error).message);
    }
  }

  /** The VIPs to announce now. */
  effective(): DesiredVip[] {
    const out = new Map<string, DesiredVip>();
    const deleted = new Set(this.state.deleted);
    for (const v of this.config) if (!deleted.has(v.ip)) out.set(v.ip, { ...v, source: 'config' });
    for (const [ip, v] of Object.entries(this.state.vips)) out.set(ip, { ip, ...v, source: 'api' });
    return [...out.values()];
  }

  /** Whether the VIP exists now. */
  has(ip: string): boolean {
    return this.effective().some((v) => v.ip === ip);
  }

  /** Creates or replaces a VIP; persisted before it takes effect. Returns whether it was new. */
  put(ip: string, v: { interface?: string; mac?: string }): boolean {
    this.usable();
    const existed = this.has(ip);
    const next: StateData = {
      version: 1,
      vips: { ...this.state.vips, [ip]: clean(v) },
      deleted: this.state.deleted.filter((d) => d !== ip),
    };
    this.commit(next);
    return !existed;
  }

  /** Deletes a VIP; persisted before it takes effect. Returns false when there was none. */
  delete(ip: string): boolean {
    this.usable();
    if (!this.has(ip)) return false;
    const vips = { ...this.state.vips };
    delete vips[ip];
    const deleted = this.config.some((c) => c.ip === ip) ? [...new Set([...this.state.deleted, ip])] : this.state.deleted;
    this.commit({ version: 1, vips, deleted });
    return true;
  }

  /**
   * Before a change: a file found unusable is read again (the operator may have fixed or removed it since),
   * and the change is refused while it still is.
   */
  private usable(): void {
    if (!this.error) return;
    this.error = undefined;
    this.load();
    if (this.error) throw this.error;
  }

  private commit(next: StateData): void {
    if (this.path) {
      try {
        writeFileAtomic(this.path, JSON.stringify(next, null, 2) + '\n');
      } catch (err) {
        throw new StateWriteError(this.path, err);
      }
    }
    this.state = next;
  }
}

function clean(v: { interface?: string; mac?: string }): { interface?: string; mac?: string } {
  const out: { interface?: string; mac?: string } = {};
  if (v.interface !== undefined) out.interface = v.interface;
  if (v.mac !== undefined) out.mac = v.mac;
  return out;
}

function parseState(raw: unknown): StateData {
  const obj = raw as Partial<StateData> | null;
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new Error('expected a JSON object');
  if (obj.version !== 1) throw new Error(`unknown version ${JSON.stringify(obj.version)} (expected 1)`);
  if (!obj.vips || typeof obj.vips !== 'object' || Array.isArray(obj.vips)) throw new Error('"vips" must be an object');
  if (!Array.isArray(obj.deleted) || obj.deleted.some((d) => typeof d !== 'string')) throw new Error('"deleted" must be a list of addresses');
  for (const [ip, v] of Object.entries(obj.vips)) {
    const addr = parseIP(ip);
    if (!addr || formatIP(addr) !== ip) throw new Error(`vips key "${ip}" is not a canonical IP address`);
    if (!v || typeof v !== 'object') throw new Error(`vips["${ip}"] must be an object`);
    if (v.mac !== undefined && (typeof v.mac !== 'string' || !parseMAC(v.mac))) throw new Error(`vips["${ip}"].mac is not a MAC address`);
    if (v.interface !== undefined && typeof v.interface !== 'string') throw new Error(`vips["${ip}"].interface must be a string`);
  }
  return { version: 1, vips: obj.vips, deleted: obj.deleted };
}

/** Writes a file so that a crash leaves either the old or the new content: temp file, fsync, rename, fsync dir. */
export function writeFileAtomic(path: string, text: string): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    try { unlinkSync(tmp); } catch { /* best effort */ }
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (err) {
    try { unlinkSync(tmp); } catch { /* best effort */ }
    throw err;
  }
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}
