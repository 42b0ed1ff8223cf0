import { IpcError } from '@pollux/core';

/** A parsed socket address: a filesystem path, or a name in Linux's abstract namespace. */
export interface SocketAddress {
  readonly name: string;
  readonly abstract: boolean;
}

/** sun_path is 108 bytes: a path needs its NUL, an abstract name its leading NUL. */
const SUN_PATH_MAX = 107;

/**
 * Parses `address`: `@name` is the abstract namespace (no file, gone with the last socket),
 * anything else a filesystem path.
 *
 * @throws {@link IpcError} `EINVAL` when empty, `ENAMETOOLONG` when it does not fit `sun_path`.
 */
export function parseSocketAddress(address: string): SocketAddress {
  const abstract = address.startsWith('@');
  const name = abstract ? address.slice(1) : address;
  if (name === '') throw new IpcError('EINVAL', `socket address "${address}" is empty`);
  if (Buffer.byteLength(name) > SUN_PATH_MAX) {
    throw new IpcError('ENAMETOOLONG', `socket address "${address}" is longer than ${SUN_PATH_MAX} bytes: use a shorter path`);
  }
  return { name, abstract };
}
