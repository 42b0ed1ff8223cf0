// Tells the service manager (NOTIFY_SOCKET) when a server listens and when it closes.
import type { IpcServer } from '@pollux/core';
import { notifyServiceManager } from '@pollux/transport-socket';

/**
 * Keeps the service manager told about `server` through `NOTIFY_SOCKET` (`sd_notify`): `READY=1`
 * each time it listens on an address (the manager heeds the first; the status lists them all),
 * `STOPPING=1` when it begins to close. Nothing is sent while `NOTIFY_SOCKET` is unset. A
 * notification that fails is thrown from the event listener, which the server reports as
 * `'error'` (or a process warning), and serving goes on.
 */
export function reportToServiceManager(server: IpcServer): void {
  server.on('listening', () => {
    notifyServiceManager(`READY=1\nSTATUS=Listening on ${server.addresses.join(', ')}`);
  });
  server.once('closing', () => {
    notifyServiceManager('STOPPING=1\nSTATUS=Closing');
  });
}
