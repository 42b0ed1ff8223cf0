// connectSync: a blocking client with the default transport, for CLIs and scripts.
import {
  Ready,
  SyncClient,
  type IpcError,
  type SyncClientOptions,
  type SyncConnector,
  type WaitForFd,
} from '@pollux/core';
import * as sys from '@pollux/sys';
import { SocketTransport } from '@pollux/transport-socket';

/** Options of {@link connectSync}: those of `SyncClient.connect` without `service`, transport and wait optional. */
export type ConnectSyncOptions = Partial<Omit<SyncClientOptions, 'service' | 'transport' | 'wait'>> & {
  /** How to reach the server. Default: Unix sockets. */
  readonly transport?: SyncConnector;
  /** How to block on an fd. Default: `poll(2)`. */
  readonly wait?: WaitForFd;
};

// One poll set, reused: a blocking client waits on one fd at a time.
const fds = new Int32Array(1);
const events = new Int32Array(1);
const revents = new Int32Array(1);

/** {@link WaitForFd} over `poll(2)`: the calling thread sleeps in the kernel, Node's loop does not turn. */
export const pollFd: WaitForFd = (fd, interest, timeoutMs) => {
  fds[0] = fd;
  events[0] = (interest & Ready.Readable ? sys.POLLIN : 0) | (interest & Ready.Writable ? sys.POLLOUT : 0);
  const status = sys.poll(fds, events, revents, 1, timeoutMs);
  if (status <= 0) return status;
  const r = revents[0]!;
  return (
    (r & sys.POLLIN ? Ready.Readable : 0) |
    (r & sys.POLLOUT ? Ready.Writable : 0) |
    (r & sys.POLLHUP ? Ready.HangUp : 0) |
    (r & (sys.POLLERR | sys.POLLNVAL) ? Ready.Error : 0)
  );
};

/**
 * Connects a blocking {@link SyncClient} to `service` (id or name) of the server at `address`
 * (socket path, or `@name` for the abstract namespace): for scripts and tools that never return
 * to the event loop. Blocks until the handshake is done.
 *
 * @throws {@link IpcError} as {@link SyncClient.connect}.
 */
export function connectSync(address: string, service: number | string, options: ConnectSyncOptions = {}): SyncClient {
  return SyncClient.connect(address, {
    ...options,
    service,
    transport: options.transport ?? new SocketTransport(),
    wait: options.wait ?? pollFd,
  });
}
