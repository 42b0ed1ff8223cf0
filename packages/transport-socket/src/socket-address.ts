// Socket addresses: a path or an @abstract name, parsed and checked.
import { IpcError } from '@pollux/core';

/** A parsed socket address: a filesystem path, or a name in Linux's abstract namespace. */
export interface SocketAddress {
  readonly name: string;
  readonly abstract: boolean;
}

/** sun_path is 108 bytes: a path needs its NUL, an abstract name its leading NUL. */
export const SUN_PATH_MAX = 107;

/**
 * Parses `address`: `@name` is the abstract namespace (no file, gone with the last socket),
 * anything else a filesystem path. Everything the kernel would refuse is refused here, before a
 * socket exists that could leak.
 *
 * @throws {@link IpcError} `EINVAL` when empty or a path holds a NUL byte, `ENAMETOOLONG` when it
 * does not fit `sun_path`.
 */
export function parseSocketAddress(address: string): SocketAddress {
  const abstract = address.startsWith('@');
  const name = abstract ? address.slice(1) : address;
  const shown = JSON.stringify(address);
  if (name === '') {
    throw new IpcError(
      'EINVAL',
      `socket address ${shown} is empty: give a path such as /run/app.sock or an abstract name such as @app`,
    );
  }
  // An abstract name is any bytes; a path ends at its first NUL, so the kernel would see another one.
  if (!abstract && name.includes('\0')) {
    throw new IpcError('EINVAL', `socket path ${shown} contains a NUL byte, which no file name can hold: remove it`);
  }
  const length = Buffer.byteLength(name);
  if (length > SUN_PATH_MAX) {
    const shorter = abstract ? 'use a shorter name' : 'use a shorter path, e.g. in a directory nearer the root';
    throw new IpcError(
      'ENAMETOOLONG',
      `socket address ${shown} is ${length} bytes, more than the ${SUN_PATH_MAX} a Unix socket address holds: ${shorter}`,
    );
  }
  return { name, abstract };
}
