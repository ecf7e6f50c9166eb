/**
 * An experiment, not a product feature: give a running l2lb's packet socket a bigger receive buffer from
 * outside the process, to test whether its flood losses are queue overflows during short stalls. The
 * socket is borrowed with pidfd_getfd(2) (Linux 5.6+, needs ptrace rights: root) and SO_RCVBUFFORCE is set
 * on the shared socket; l2lb itself is untouched. Bun only (bun:ffi for syscall(2)).
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { dlopen } from 'bun:ffi';
import { libc } from '../../src/runtime/ffi.ts';

const SYS_PIDFD_OPEN = 434; // same number on x86-64 and arm64 (the unified syscall table)
const SYS_PIDFD_GETFD = 438;
const SOL_SOCKET = 1;
const SO_RCVBUF = 8;
const SO_RCVBUFFORCE = 33;

/** The inode of the ETH_P_ALL packet socket bound to `ifindex` in the process's namespace. */
function packetSocketInode(pid: number, ifindex: number): string {
  // sk RefCnt Type Proto Iface R Rmem User Inode
  const rows = readFileSync(`/proc/${pid}/net/packet`, 'utf8').trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/));
  const row = rows.find((r) => r[3] === '0003' && Number(r[4]) === ifindex);
  if (!row) throw new Error(`pid ${pid} has no packet socket on ifindex ${ifindex}`);
  return row[8]!;
}

function fdOf(pid: number, inode: string): number {
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`) return Number(fd);
    } catch {
      // closed meanwhile
    }
  }
  throw new Error(`pid ${pid} has no fd for socket inode ${inode}`);
}

/** Sets the receive buffer of l2lb's socket on `ifindex` (in its namespace) and returns what the kernel reports. */
export function forceReceiveBuffer(pid: number, ifindex: number, bytes: number): number {
  const fd = fdOf(pid, packetSocketInode(pid, ifindex));
  const sys = dlopen('libc.so.6', { syscall: { args: ['i64', 'i64', 'i64', 'i64'], returns: 'i64' } });
  const lib = libc();
  try {
    const pidfd = Number(sys.symbols.syscall(SYS_PIDFD_OPEN, pid, 0, 0));
    if (pidfd < 0) throw new Error(`pidfd_open(${pid}) failed: errno ${lib.errno()}`);
    const local = Number(sys.symbols.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0));
    lib.close(pidfd);
    if (local < 0) throw new Error(`pidfd_getfd(${pid}, ${fd}) failed: errno ${lib.errno()}`);
    try {
      const v = new Uint8Array(4);
      const dv = new DataView(v.buffer);
      dv.setInt32(0, bytes, true);
      if (lib.setsockopt(local, SOL_SOCKET, SO_RCVBUFFORCE, v, 4) < 0) throw new Error(`SO_RCVBUFFORCE failed: errno ${lib.errno()}`);
      const len = new Uint8Array(4);
      new DataView(len.buffer).setUint32(0, 4, true);
      if (lib.getsockopt(local, SOL_SOCKET, SO_RCVBUF, v, len) < 0) throw new Error(`SO_RCVBUF read failed: errno ${lib.errno()}`);
      return dv.getInt32(0, true);
    } finally {
      lib.close(local);
    }
  } finally {
    sys.close();
  }
}
