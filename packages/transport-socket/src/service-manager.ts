// The sd_notify protocol: one datagram of newline-separated assignments (READY=1, STOPPING=1,
// STATUS=…) to the Unix socket NOTIFY_SOCKET names, which the service manager reads.
import { IpcError, errnoCode, errnoName } from '@pollux/core';
import * as sys from '@pollux/sys';
import { parseSocketAddress } from './socket-address.js';
import { socketCreationError } from './socket-errors.js';

/**
 * Tells the service manager (systemd, or anything speaking `sd_notify`) about this service:
 * `state` is newline-separated assignments such as `READY=1`, `STOPPING=1`, `STATUS=…`, sent as
 * one datagram to the socket `NOTIFY_SOCKET` names (a path, or `@name` in the abstract
 * namespace), read at each call. Does nothing without `NOTIFY_SOCKET`, which is then not a
 * service manager's child. The variable is left set: the manager only listens to the service's
 * main process (`NotifyAccess=main`), whatever its children send.
 *
 * Never blocks: a manager whose queue is full makes it fail with `EAGAIN`.
 *
 * @param state - e.g. `'READY=1\nSTATUS=Listening'`
 * @returns whether it was sent: `false` when `NOTIFY_SOCKET` is not set
 * @throws {@link @pollux/core!index.IpcError} `EAFNOSUPPORT` for a `NOTIFY_SOCKET` that is neither a path
 * nor an `@name` (such as `vsock:`); `EINVAL` / `ENAMETOOLONG` for one no Unix socket can have;
 * `ENOENT` / `ECONNREFUSED` when nothing receives there; `EACCES`; `EAGAIN` when the manager's
 * queue is full; `EMFILE` / `ENFILE`. Each message names `NOTIFY_SOCKET` and says what to do.
 */
export function notifyServiceManager(state: string): boolean {
  const address = process.env['NOTIFY_SOCKET'];
  if (address === undefined || address === '') return false;
  const shown = `NOTIFY_SOCKET=${address}`;
  if (!address.startsWith('/') && !address.startsWith('@')) {
    throw new IpcError(
      errnoCode('EAFNOSUPPORT'),
      `cannot notify the service manager at ${shown}: only a socket path or an @abstract name is supported; ` +
        'run the service where the manager gives one, or unset NOTIFY_SOCKET',
    );
  }
  let target: ReturnType<typeof parseSocketAddress>;
  try {
    target = parseSocketAddress(address);
  } catch (error) {
    const { code, message } = IpcError.from(error, 'EINVAL');
    throw new IpcError(code, `cannot notify the service manager at ${shown}: ${message}`, { cause: error });
  }
  let fd: number;
  try {
    fd = sys.socketUnixDatagram();
  } catch (error) {
    throw socketCreationError(error, shown);
  }
  let status: number;
  try {
    status = sys.sendToUnix(fd, target.name, target.abstract, Buffer.from(state));
  } finally {
    sys.close(fd);
  }
  if (status < 0) throw notifyError(status, shown);
  return true;
}

/** `sendto` the notify socket returned `status` (a negative errno). */
function notifyError(status: number, shown: string): IpcError {
  const code = errnoName(status);
  let advice: string;
  switch (code) {
    case 'ENOENT':
    case 'ECONNREFUSED':
      advice =
        'nothing receives there: the service manager that set it is gone, or it was set by hand to a wrong address; unset it or fix it';
      break;
    case 'EACCES':
    case 'EPERM':
      advice = 'no permission to send there: run the service as the user its manager expects, or fix the socket mode';
      break;
    case 'EAGAIN':
      advice = "the service manager's queue is full: it is busy or stuck; it can be told again later";
      break;
    case 'EPROTOTYPE':
      advice = "that is not a datagram socket: point NOTIFY_SOCKET at the manager's notify socket";
      break;
    default:
      advice = `${sys.errnoMessage(status)} (${code})`;
  }
  return new IpcError(code, `cannot notify the service manager at ${shown}: ${advice}`);
}
