/**
 * The one adapter between l2lb and libc: `bun:ffi` under Bun, `Deno.dlopen` under Deno.
 *
 * Nothing is loaded at import time. {@link libc} opens libc on its first call and caches the
 * handle for the calling thread (every Worker has its own module instance, hence its own handle).
 *
 * Every function mirrors its C counterpart: it returns the C return value (usually -1 on error) and
 * {@link Libc.errno} must be read right after a failing call, before anything else runs.
 */
import type * as BunFFI from 'bun:ffi';
import { runtimeName } from './index.ts';

/** The libc functions l2lb needs. Buffers are passed by address; lengths are checked against them. */
export interface Libc {
  /** `socket(2)`; returns the fd or -1. */
  socket(domain: number, type: number, protocol: number): number;
  /** `bind(2)` with a packed `struct sockaddr_*`. */
  bind(fd: number, addr: Uint8Array, len: number): number;
  /** `setsockopt(2)`. */
  setsockopt(fd: number, level: number, name: number, value: Uint8Array, len: number): number;
  /** `getsockopt(2)`; `len` is a 4-byte `socklen_t` in/out cell (native byte order). */
  getsockopt(fd: number, level: number, name: number, value: Uint8Array, len: Uint8Array): number;
  /** `send(2)`; returns bytes sent or -1. */
  send(fd: number, buf: Uint8Array, len: number, flags: number): number;
  /** `recv(2)`; returns bytes received or -1. */
  recv(fd: number, buf: Uint8Array, len: number, flags: number): number;
  /** `poll(2)` over `struct pollfd[]` packed in a Uint8Array (8 bytes each, native byte order). */
  poll(fds: Uint8Array, nfds: number, timeoutMs: number): number;
  /** `close(2)`. */
  close(fd: number): number;
  /** `eventfd(2)`. */
  eventfd(initval: number, flags: number): number;
  /** `read(2)`. */
  read(fd: number, buf: Uint8Array, len: number): number;
  /** `write(2)`. */
  write(fd: number, buf: Uint8Array, len: number): number;
  /** `if_nametoindex(3)` with a NUL-terminated name; 0 when absent. */
  if_nametoindex(name: Uint8Array): number;
  /** `setns(2)`: moves the calling thread into another namespace (tests open sockets in a netns). */
  setns(fd: number, nstype: number): number;
  /**
   * `execve(2)` with a NUL-terminated path and NULL-terminated arrays of pointers (see {@link addressOf});
   * returns only on failure (-1).
   */
  execve(path: Uint8Array, argv: Uint8Array, envp: Uint8Array): number;
  /** The calling thread's `errno`; meaningful only right after a failing call. */
  errno(): number;
  /**
   * The address of a buffer's first byte, for structs that embed pointers (`struct sock_fprog`).
   * The caller must keep `buf` referenced while the address is in use, and should allocate it with
   * `new Uint8Array(new ArrayBuffer(n))` so the engine keeps it off the moving heap.
   */
  addressOf(buf: Uint8Array): bigint;
  /** Which FFI backs this handle. */
  readonly runtime: 'bun' | 'deno';
}

/** Minimal view of `Deno`'s FFI surface; the project is typed against Bun, so Deno is declared here. */
interface DenoFfi {
  dlopen(
    path: string,
    symbols: Record<string, { parameters: string[]; result: string }>,
  ): { symbols: Record<string, (...args: unknown[]) => unknown>; close(): void };
  UnsafePointerView: new (pointer: unknown) => { getInt32(offset?: number): number };
  UnsafePointer: { of(buf: Uint8Array): unknown; value(pointer: unknown): number | bigint };
}

/** C signatures, spelled once in a neutral form and translated for each runtime. */
const SIGNATURES = {
  socket: [['i32', 'i32', 'i32'], 'i32'],
  bind: [['i32', 'buffer', 'u32'], 'i32'],
  setsockopt: [['i32', 'i32', 'i32', 'buffer', 'u32'], 'i32'],
  getsockopt: [['i32', 'i32', 'i32', 'buffer', 'buffer'], 'i32'],
  // ssize_t results are declared i32: frames are far below 2 GiB, the low half of -1 is -1, and an
  // i64 result would make Deno allocate a BigInt between the call and the errno read (see errno()).
  send: [['i32', 'buffer', 'usize', 'i32'], 'i32'],
  recv: [['i32', 'buffer', 'usize', 'i32'], 'i32'],
  poll: [['buffer', 'usize', 'i32'], 'i32'],
  close: [['i32'], 'i32'],
  eventfd: [['u32', 'i32'], 'i32'],
  read: [['i32', 'buffer', 'usize'], 'i32'],
  write: [['i32', 'buffer', 'usize'], 'i32'],
  if_nametoindex: [['buffer'], 'u32'],
  setns: [['i32', 'i32'], 'i32'],
  execve: [['buffer', 'buffer', 'buffer'], 'i32'],
  __errno_location: [[], 'pointer'],
} as const satisfies Record<string, readonly [readonly string[], string]>;

type SymbolName = keyof typeof SIGNATURES;
type RawSymbols = Record<SymbolName, (...args: any[]) => any>; // FFI boundary: shapes differ per runtime

/** glibc first; musl names for Alpine-style images. */
const LIBC_CANDIDATES = ['libc.so.6', 'libc.musl-x86_64.so.1', 'libc.musl-aarch64.so.1', 'libc.so'];

let cached: Libc | undefined;

/**
 * libc for the calling thread, loaded on first use. Throws when the runtime has no FFI (Node) or
 * FFI is not permitted (Deno without `--allow-ffi`).
 */
export function libc(): Libc {
  if (cached) return cached;
  const rt = runtimeName;
  if (rt === 'bun') cached = loadBun();
  else if (rt === 'deno') cached = loadDeno();
  else throw new Error('l2lb needs Bun or Deno: no FFI available in this runtime');
  return cached;
}

/** Async form of {@link libc} for callers that prefer to await initialisation once. */
export function loadLibc(): Promise<Libc> {
  try {
    return Promise.resolve(libc());
  } catch (e) {
    return Promise.reject(e);
  }
}

function openFirst<T>(open: (path: string) => T): T {
  const errors: string[] = [];
  for (const path of LIBC_CANDIDATES) {
    try {
      return open(path);
    } catch (e) {
      errors.push(`${path}: ${(e as Error).message}`);
    }
  }
  throw new Error(`cannot load libc: ${errors.join('; ')}`);
}

function loadBun(): Libc {
  // A synchronous require keeps libc() synchronous; `bun build --compile` resolves the builtin too.
  // Under Deno this line never runs, and Deno does not pre-resolve require() calls.
  const ffi = require('bun:ffi') as typeof BunFFI;
  const bunType = (t: string): BunFFI.FFITypeOrString =>
    (t === 'usize' ? 'u64' : t === 'pointer' ? 'ptr' : t) as BunFFI.FFITypeOrString;
  const defs: Record<string, { args: BunFFI.FFITypeOrString[]; returns: BunFFI.FFITypeOrString }> = {};
  for (const [name, [args, result]] of Object.entries(SIGNATURES)) {
    defs[name] = { args: args.map(bunType), returns: bunType(result) };
  }
  const lib = openFirst((path) => ffi.dlopen(path, defs));
  const s = lib.symbols as unknown as RawSymbols;
  // errno lives at a fixed per-thread address: read it with a plain load, no FFI call in between.
  const errnoPtr = s.__errno_location() as BunFFI.Pointer;
  return build(s, () => ffi.read.i32(errnoPtr, 0), (buf) => BigInt(ffi.ptr(buf)), 'bun');
}

function loadDeno(): Libc {
  const D = (globalThis as unknown as { Deno: DenoFfi }).Deno;
  const defs: Record<string, { parameters: string[]; result: string }> = {};
  for (const [name, [args, result]] of Object.entries(SIGNATURES)) {
    defs[name] = { parameters: [...args], result };
  }
  const lib = openFirst((path) => D.dlopen(path, defs));
  const s = lib.symbols as unknown as RawSymbols;
  // Measured: calling __errno_location() after each failure returned a clobbered errno (ENOENT,
  // EAGAIN) a few times per 100k calls under Deno, because the pointer result is a heap object and
  // the allocation can run GC work. A view made once reads the cell with no allocation.
  const view = new D.UnsafePointerView(s.__errno_location());
  return build(
    s,
    () => view.getInt32(0),
    (buf) => BigInt(D.UnsafePointer.value(D.UnsafePointer.of(buf))),
    'deno',
  );
}

/** Refuses lengths beyond the buffer: a wrong length here would be a memory-safety bug, not an errno. */
function checkLen(buf: Uint8Array, len: number, what: string): void {
  if (!Number.isInteger(len) || len < 0 || len > buf.byteLength) {
    throw new RangeError(`${what}: length ${len} outside buffer of ${buf.byteLength} bytes`);
  }
}

function build(
  s: RawSymbols,
  errno: () => number,
  addressOf: (buf: Uint8Array) => bigint,
  runtime: 'bun' | 'deno',
): Libc {
  return {
    runtime,
    errno,
    addressOf,
    socket: (domain, type, protocol) => s.socket(domain, type, protocol),
    bind: (fd, addr, len) => (checkLen(addr, len, 'bind'), s.bind(fd, addr, len)),
    setsockopt: (fd, level, name, value, len) =>
      (checkLen(value, len, 'setsockopt'), s.setsockopt(fd, level, name, value, len)),
    getsockopt: (fd, level, name, value, len) => {
      if (len.byteLength < 4) throw new RangeError('getsockopt: socklen_t cell needs 4 bytes');
      const want = new DataView(len.buffer, len.byteOffset, 4).getUint32(0, true);
      checkLen(value, want, 'getsockopt');
      return s.getsockopt(fd, level, name, value, len);
    },
    send: (fd, buf, len, flags) => (checkLen(buf, len, 'send'), s.send(fd, buf, len, flags)),
    recv: (fd, buf, len, flags) => (checkLen(buf, len, 'recv'), s.recv(fd, buf, len, flags)),
    poll: (fds, nfds, timeoutMs) => (checkLen(fds, nfds * 8, 'poll'), s.poll(fds, nfds, timeoutMs)),
    close: (fd) => s.close(fd),
    eventfd: (initval, flags) => s.eventfd(initval, flags),
    read: (fd, buf, len) => (checkLen(buf, len, 'read'), s.read(fd, buf, len)),
    write: (fd, buf, len) => (checkLen(buf, len, 'write'), s.write(fd, buf, len)),
    if_nametoindex: (name) => {
      if (name.indexOf(0) < 0) throw new RangeError('if_nametoindex: name must be NUL-terminated');
      return s.if_nametoindex(name);
    },
    setns: (fd, nstype) => s.setns(fd, nstype),
    execve: (path, argv, envp) => {
      if (path.indexOf(0) < 0) throw new RangeError('execve: path must be NUL-terminated');
      if (argv.byteLength % 8 !== 0 || envp.byteLength % 8 !== 0) throw new RangeError('execve: argv and envp are arrays of 8-byte pointers');
      return s.execve(path, argv, envp);
    },
  };
}
