/**
 * Errors raised by the link layer, carrying the C `errno` and the failing operation.
 */

/** Linux errno numbers (x86_64 and aarch64 share the generic table) with their strerror text. */
const ERRNO: Record<number, [string, string]> = {
  1: ['EPERM', 'Operation not permitted'],
  2: ['ENOENT', 'No such file or directory'],
  3: ['ESRCH', 'No such process'],
  4: ['EINTR', 'Interrupted system call'],
  5: ['EIO', 'Input/output error'],
  6: ['ENXIO', 'No such device or address'],
  7: ['E2BIG', 'Argument list too long'],
  9: ['EBADF', 'Bad file descriptor'],
  11: ['EAGAIN', 'Resource temporarily unavailable'],
  12: ['ENOMEM', 'Cannot allocate memory'],
  13: ['EACCES', 'Permission denied'],
  14: ['EFAULT', 'Bad address'],
  16: ['EBUSY', 'Device or resource busy'],
  17: ['EEXIST', 'File exists'],
  19: ['ENODEV', 'No such device'],
  22: ['EINVAL', 'Invalid argument'],
  23: ['ENFILE', 'Too many open files in system'],
  24: ['EMFILE', 'Too many open files'],
  28: ['ENOSPC', 'No space left on device'],
  32: ['EPIPE', 'Broken pipe'],
  38: ['ENOSYS', 'Function not implemented'],
  88: ['ENOTSOCK', 'Socket operation on non-socket'],
  89: ['EDESTADDRREQ', 'Destination address required'],
  90: ['EMSGSIZE', 'Message too long'],
  91: ['EPROTOTYPE', 'Protocol wrong type for socket'],
  92: ['ENOPROTOOPT', 'Protocol not available'],
  93: ['EPROTONOSUPPORT', 'Protocol not supported'],
  94: ['ESOCKTNOSUPPORT', 'Socket type not supported'],
  95: ['EOPNOTSUPP', 'Operation not supported'],
  96: ['EPFNOSUPPORT', 'Protocol family not supported'],
  97: ['EAFNOSUPPORT', 'Address family not supported by protocol'],
  98: ['EADDRINUSE', 'Address already in use'],
  99: ['EADDRNOTAVAIL', 'Cannot assign requested address'],
  100: ['ENETDOWN', 'Network is down'],
  101: ['ENETUNREACH', 'Network is unreachable'],
  102: ['ENETRESET', 'Network dropped connection on reset'],
  103: ['ECONNABORTED', 'Software caused connection abort'],
  104: ['ECONNRESET', 'Connection reset by peer'],
  105: ['ENOBUFS', 'No buffer space available'],
  106: ['EISCONN', 'Transport endpoint is already connected'],
  107: ['ENOTCONN', 'Transport endpoint is not connected'],
  110: ['ETIMEDOUT', 'Connection timed out'],
  111: ['ECONNREFUSED', 'Connection refused'],
  112: ['EHOSTDOWN', 'Host is down'],
  113: ['EHOSTUNREACH', 'No route to host'],
};

/** Errno constants the link layer branches on. */
export const Errno = {
  EPERM: 1,
  EINTR: 4,
  ENXIO: 6,
  EBADF: 9,
  EAGAIN: 11,
  EACCES: 13,
  ENODEV: 19,
  EINVAL: 22,
  ENETDOWN: 100,
  ENOBUFS: 105,
} as const;

/** The symbolic name of an errno (`EPERM`), or `errno N` for numbers not in the table. */
export function errnoName(errno: number): string {
  return ERRNO[errno]?.[0] ?? `errno ${errno}`;
}

/** The strerror(3) text of an errno, or `Unknown error N`. */
export function errnoMessage(errno: number): string {
  return ERRNO[errno]?.[1] ?? `Unknown error ${errno}`;
}

/** A failed libc call: `socket(AF_PACKET) failed: EPERM (Operation not permitted)`. */
export class LinkError extends Error {
  /** The C errno of the failure. */
  readonly errno: number;
  /** The operation that failed, e.g. `socket(AF_PACKET)` or `send`. */
  readonly op: string;
  /** Symbolic errno, e.g. `ENETDOWN`, so callers and logs need not look numbers up. */
  readonly code: string;

  /** `detail` is appended to the message after a blank line (used for remedies). */
  constructor(op: string, errno: number, detail?: string) {
    const base = `${op} failed: ${errnoName(errno)} (${errnoMessage(errno)})`;
    super(detail ? `${base}\n\n${detail}` : base);
    this.name = 'LinkError';
    this.errno = errno;
    this.op = op;
    this.code = errnoName(errno);
  }
}

const CAP_NET_RAW_HELP = [
  'Opening a raw packet socket needs the CAP_NET_RAW capability. Grant it in one of these ways:',
  '  - binary:     setcap cap_net_raw+ep /path/to/l2lb',
  '  - systemd:    AmbientCapabilities=CAP_NET_RAW (and CapabilityBoundingSet=CAP_NET_RAW) in the unit',
  '  - Kubernetes: securityContext.capabilities.add: [NET_RAW]',
  'File capabilities (setcap) do not survive no_new_privs (systemd NoNewPrivileges=yes, Kubernetes',
  'allowPrivilegeEscalation: false); use ambient capabilities or the container capability there.',
].join('\n');

/**
 * socket() refused for lack of CAP_NET_RAW (EPERM/EACCES); the message says how to grant it.
 * `new PermissionError(op, errno)` builds it; `new PermissionError(message)` re-creates one from the
 * message of another thread's PermissionError (errors lose their class crossing postMessage).
 */
export class PermissionError extends LinkError {
  constructor(op: string, errno?: number) {
    if (errno === undefined) {
      const m = /^(.*?) failed: (\w+) /.exec(op);
      const num = Number(Object.entries(ERRNO).find(([, [name]]) => name === m?.[2])?.[0] ?? Errno.EPERM);
      super(m?.[1] ?? 'socket(AF_PACKET)', num, CAP_NET_RAW_HELP);
    } else {
      super(op, errno, CAP_NET_RAW_HELP);
    }
    this.name = 'PermissionError';
  }
}

/** Builds the right error class for a failed call: socket creation refusals become {@link PermissionError}. */
export function linkError(op: string, errno: number): LinkError {
  if (op.startsWith('socket(') && (errno === Errno.EPERM || errno === Errno.EACCES)) {
    return new PermissionError(op, errno);
  }
  return new LinkError(op, errno);
}
