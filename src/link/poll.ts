/**
 * Blocking readiness wait over several fds (poll(2)), and an eventfd to interrupt it from another
 * thread. The receive Worker blocks here; the main thread wakes it for reconfiguration or shutdown.
 */
import type { Libc } from '../runtime/ffi.ts';
import { Errno, LinkError, linkError } from './errors.ts';

/** poll(2) event bits. */
export const PollEvents = {
  POLLIN: 0x1,
  POLLPRI: 0x2,
  POLLOUT: 0x4,
  POLLERR: 0x8,
  POLLHUP: 0x10,
  POLLNVAL: 0x20,
} as const;

const REPORTED = PollEvents.POLLIN | PollEvents.POLLERR | PollEvents.POLLHUP | PollEvents.POLLNVAL;

const EFD_NONBLOCK = 0x800;
const EFD_CLOEXEC = 0x80000;

/** Waits for any of a set of fds to become readable (or to report an error or hang-up). */
export class Poller {
  private readonly libc: Libc;
  private fds: number[] = [];
  private table = new Uint8Array(0);
  private view = new DataView(this.table.buffer);
  private readonly last = new Map<number, number>();

  /** `libc` must belong to the thread that calls {@link wait}. */
  constructor(libc: Libc) {
    this.libc = libc;
  }

  /** Replaces the watched fds (POLLIN on each). */
  set(fds: number[]): void {
    this.fds = [...fds];
    this.table = new Uint8Array(this.fds.length * 8); // struct pollfd { int fd; short events; short revents; }
    this.view = new DataView(this.table.buffer);
    this.fds.forEach((fd, i) => {
      this.view.setInt32(i * 8, fd, true);
      this.view.setInt16(i * 8 + 4, PollEvents.POLLIN, true);
    });
  }

  /**
   * Blocks up to `timeoutMs` (-1 = forever, 0 = just look) and returns the fds that are readable or
   * report POLLERR/POLLHUP/POLLNVAL, in the order given to {@link set}. Returns [] on timeout and
   * when a signal interrupted the wait. Use {@link revents} to tell an error from data.
   */
  wait(timeoutMs: number): number[] {
    this.last.clear();
    for (let i = 0; i < this.fds.length; i++) this.view.setInt16(i * 8 + 6, 0, true);
    const n = this.libc.poll(this.table, this.fds.length, Math.trunc(timeoutMs));
    if (n < 0) {
      const errno = this.libc.errno();
      if (errno === Errno.EINTR) return [];
      throw linkError('poll', errno);
    }
    const ready: number[] = [];
    if (n === 0) return ready;
    for (let i = 0; i < this.fds.length; i++) {
      const revents = this.view.getInt16(i * 8 + 6, true) & 0xffff;
      if (revents & REPORTED) {
        const fd = this.fds[i]!;
        ready.push(fd);
        this.last.set(fd, revents);
      }
    }
    return ready;
  }

  /** The revents bits the last {@link wait} saw for `fd` (0 when it was not ready). */
  revents(fd: number): number {
    return this.last.get(fd) ?? 0;
  }
}

/**
 * An eventfd that makes a poll() return. Create it on either thread; hand the fd number to the
 * other thread, which uses {@link Wakeup.fromFd} with its own Libc. Only the creator closes it, and
 * only after the other side stopped signalling: a closed fd number may be reused by another file.
 */
export class Wakeup {
  /** The eventfd, to put into a {@link Poller}. */
  readonly fd: number;
  private readonly libc: Libc;
  private readonly owned: boolean;
  private closed = false;
  private readonly one = new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]); // u64 1, little-endian
  private readonly scratch = new Uint8Array(8);

  private constructor(libc: Libc, fd: number, owned: boolean) {
    this.libc = libc;
    this.fd = fd;
    this.owned = owned;
  }

  /** A new eventfd(0, EFD_NONBLOCK|EFD_CLOEXEC). */
  static create(libc: Libc): Wakeup {
    const fd = libc.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) throw linkError('eventfd', libc.errno());
    return new Wakeup(libc, fd, true);
  }

  /** Wraps an eventfd created elsewhere (typically on another thread); {@link close} leaves it open. */
  static fromFd(libc: Libc, fd: number): Wakeup {
    if (!Number.isInteger(fd) || fd < 0) throw new RangeError(`bad eventfd ${fd}`);
    return new Wakeup(libc, fd, false);
  }

  /** Makes the fd readable; safe from any thread. Throws {@link LinkError} on EBADF and the like. */
  signal(): void {
    if (this.closed) throw new LinkError('write(eventfd)', Errno.EBADF);
    for (;;) {
      if (this.libc.write(this.fd, this.one, 8) === 8) return;
      const errno = this.libc.errno();
      // EAGAIN: the counter is saturated, so the fd is readable already.
      if (errno === Errno.EAGAIN) return;
      if (errno !== Errno.EINTR) throw linkError('write(eventfd)', errno);
    }
  }

  /** Resets the counter so the fd stops being readable; returns how many signals were pending. */
  drain(): number {
    if (this.closed) return 0;
    for (;;) {
      if (this.libc.read(this.fd, this.scratch, 8) === 8) {
        return Number(new DataView(this.scratch.buffer).getBigUint64(0, true));
      }
      const errno = this.libc.errno();
      if (errno === Errno.EAGAIN) return 0;
      if (errno !== Errno.EINTR) throw linkError('read(eventfd)', errno);
    }
  }

  /** Closes an owned eventfd (idempotent); a {@link fromFd} wrapper just stops using it. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.owned) this.libc.close(this.fd);
  }
}
