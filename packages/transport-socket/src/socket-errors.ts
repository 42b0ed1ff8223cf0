// What each failure of a Unix socket address means to the person who chose the address, and
// what they can do about it: one place, so listen and connect speak alike.
import { dirname, resolve } from 'node:path';
import { IpcError, errnoName, type IpcErrorCode } from '@pollux/core';
import { errnoMessage } from '@pollux/sys';
import type { SocketAddress } from './socket-address.js';

/** What stands on a filesystem address that `bind` found taken. */
export type AddressHolder =
  /** A server answers there. */
  | 'server'
  /** A file that is no socket (a regular file, a directory, …). */
  | 'not-a-socket'
  /** A socket file this process may not connect to, so whether a server is behind it is unknown. */
  | 'unreachable-socket';

/** Codes of failures every socket call can meet: the process or the system ran out of something. */
function shortage(code: string): string | undefined {
  switch (code) {
    case 'EMFILE':
      return 'this process is out of file descriptors: close some, or raise its limit (ulimit -n, LimitNOFILE=)';
    case 'ENFILE':
      return 'the system is out of file descriptors: close some, or raise fs.file-max';
    case 'ENOMEM':
    case 'ENOBUFS':
      return 'the kernel is out of memory: free some, then retry';
    default:
      return undefined;
  }
}

/** The errno-style code of a thrown SysError or Node.js system error; `EIO` for anything else. */
function codeOf(error: unknown): IpcErrorCode {
  return IpcError.from(error, 'EIO').code;
}

/** The directory a filesystem address lives in, absolute, for messages. */
function directoryOf(target: SocketAddress): string {
  return dirname(resolve(target.name));
}

/** `socket(2)` failed while setting up `address`. */
export function socketCreationError(error: unknown, address: string): IpcError {
  const code = codeOf(error);
  return new IpcError(
    code,
    `cannot create a socket for ${address}: ${shortage(code) ?? String((error as Error).message)}`,
    { cause: error },
  );
}

/** `bind` found `address` taken by `holder`. */
export function addressInUse(holder: AddressHolder, address: string, cause: unknown): IpcError {
  const options = { cause };
  switch (holder) {
    case 'server':
      return new IpcError(
        'EADDRINUSE',
        `another server is listening on ${address}: stop it, or pick another address`,
        options,
      );
    case 'not-a-socket':
      return new IpcError(
        'EADDRINUSE',
        `${address} exists and is not a socket: remove it if nothing needs it, or pick another address`,
        options,
      );
    case 'unreachable-socket':
      return new IpcError(
        'EADDRINUSE',
        `${address} is a socket file this process may not connect to, so whether a server still listens there is unknown: ` +
          'stop that server, or remove the file if none runs, or pick another address',
        options,
      );
  }
}

/** A socket file nobody listens on could not be removed to make room for the new server. */
export function staleFileStays(error: unknown, address: string): IpcError {
  const code = codeOf(error);
  return new IpcError(
    code,
    `${address} is a socket file left by a server that stopped, and this process cannot remove it (${code}): ` +
      'remove it as its owner, or pick another address',
    { cause: error },
  );
}

/** `bind` or `listen` failed on `address` for a reason other than a holder. */
export function listenError(error: unknown, address: string, target: SocketAddress): IpcError {
  const code = codeOf(error);
  const where = directoryOf(target);
  let advice: string | undefined;
  switch (code) {
    case 'EADDRINUSE':
    case 'EEXIST':
      return addressInUse('server', address, error);
    case 'ENOENT':
      advice = `directory ${where} does not exist: create it, or pick an address in a directory that exists`;
      break;
    case 'ENOTDIR':
      advice = `a component of ${where} is not a directory: pick an address in a directory`;
      break;
    case 'EACCES':
    case 'EPERM':
      advice =
        `no permission to create a socket file in ${where} (it takes write and search access there, and search access above): ` +
        'listen as a user who has it, or pick another directory';
      break;
    case 'EROFS':
      advice = `${where} is on a read-only file system: pick an address on a writable one, such as under /run or /tmp`;
      break;
    case 'ELOOP':
      advice = `the path to ${where} has too many symbolic links: use a path without the loop`;
      break;
    default:
      advice = shortage(code);
  }
  return new IpcError(code, `cannot listen on ${address}: ${advice ?? String((error as Error).message)}`, {
    cause: error,
  });
}

/** A `mode`, `owner` or `group` option that is not one. */
export function badFileAttribute(name: string, value: unknown, max: number): IpcError {
  const range = name === 'mode' ? `permission bits in 0–0o${max.toString(8)}` : `a numeric id in 0–${max}`;
  return new IpcError('EINVAL', `${name} must be ${range}, got ${String(value)}: look names up to their ids first`);
}

/** `mode`, `owner` or `group` was given for an abstract address, which has no file. */
export function fileAttributesOnAbstract(address: string): IpcError {
  return new IpcError(
    'EINVAL',
    `${address} is an abstract address, which has no file to give a mode, owner or group: ` +
      'listen on a filesystem path to control who may connect by file permissions, or drop those options',
  );
}

/** `mode`, `owner` or `group` was given for a socket this process did not create. */
export function fileAttributesOnInherited(address: string): IpcError {
  return new IpcError(
    'EINVAL',
    `${address} is a socket made by whoever passed it, which chose its file's mode, owner and group: ` +
      'set them there (SocketMode=, SocketUser=, SocketGroup= in the .socket unit), and drop those options here',
  );
}

/** The private directory beside `address` makes a path too long for a socket. */
export function asideTooLong(address: string, aside: string): IpcError {
  return new IpcError(
    'ENAMETOOLONG',
    `to set the mode, owner or group of ${address} before it appears, the socket is first bound at ${aside}, ` +
      'which is over 107 bytes: use a shorter directory',
  );
}

/** chown of the socket file for `address` failed. */
export function chownError(
  error: unknown,
  address: string,
  owner: number | undefined,
  group: number | undefined,
): IpcError {
  const code = codeOf(error);
  const wanted = [owner === undefined ? '' : `owner uid ${owner}`, group === undefined ? '' : `group gid ${group}`]
    .filter((part) => part !== '')
    .join(' and ');
  const advice =
    code === 'EPERM'
      ? 'only root (CAP_CHOWN) may give a file away, and others only a group they belong to: ' +
        'run the server with that privilege, or pick a group of its user'
      : String((error as Error).message);
  return new IpcError(code, `cannot give the socket file of ${address} ${wanted}: ${advice}`, { cause: error });
}

/** `connect` to `address` returned `status` (a negative errno). */
export function connectError(status: number, address: string, target: SocketAddress): IpcError {
  const code = errnoName(status);
  switch (code) {
    case 'ENOENT':
      return new IpcError(code, `no socket at ${address}: is the server running?`);
    case 'ECONNREFUSED':
      return new IpcError(
        code,
        target.abstract
          ? `no server listens on ${address}: start it, or check the name`
          : `nothing listens at ${address} (a socket file left by a server that stopped, or no socket at all): ` +
              'start the server (it replaces a left-over file), or check the address',
      );
    case 'EAGAIN':
      return new IpcError(code, `the server at ${address} has a full accept queue: retry shortly`);
    case 'EACCES':
    case 'EPERM':
      return new IpcError(
        code,
        `no permission to connect to ${address}: check the socket's mode and owner, and search access to ${directoryOf(target)}`,
      );
    case 'ENOTDIR':
      return new IpcError(
        code,
        `no socket at ${address}: a component of ${directoryOf(target)} is not a directory; check the address`,
      );
    case 'EPROTOTYPE':
      return new IpcError(code, `${address} is not a stream socket: check the address`);
    default:
      return new IpcError(
        code,
        `cannot connect to ${address}: ${shortage(code) ?? `${errnoMessage(status)} (${code})`}`,
      );
  }
}
