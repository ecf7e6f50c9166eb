/**
 * Linux network interface names.
 */

/** IFNAMSIZ (16) minus the terminating NUL. */
export const MAX_IFNAME_BYTES = 15;

/**
 * True if the kernel would accept `name` as an interface name (`dev_valid_name()` in
 * net/core/dev.c): 1-15 bytes, not `.` or `..`, no `/`, `:` or whitespace. We also refuse NUL,
 * which the kernel never sees because it ends the C string.
 */
export function isInterfaceName(name: string): boolean {
  if (name === '' || name === '.' || name === '..') return false;
  if (new TextEncoder().encode(name).length > MAX_IFNAME_BYTES) return false;
  // The kernel's isspace(): space, \t, \n, \v, \f, \r.
  return !/[/:\s\0]/.test(name);
}
