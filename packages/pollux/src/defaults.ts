// The defaults the facade fills in: the shared Node poller and the socket transport.
import { IpcClient, IpcServer, type IpcClientOptions, type IpcError, type IpcServerOptions } from '@pollux/core';
import type { notifyServiceManager } from '@pollux/transport-socket';
import { NodePoller } from '@pollux/poll-node';
import type { SocketTransportOptions } from '@pollux/transport-socket';
import type { ShmTransportOptions } from '@pollux/transport-shm';
import { AddressTransport } from './address-transport.js';
import { reportToServiceManager } from './readiness.js';

let sharedPoller: NodePoller | undefined;

/** The process-wide {@link NodePoller} the defaults use; created on first use. */
export function defaultPoller(): NodePoller {
  sharedPoller ??= new NodePoller();
  return sharedPoller;
}

/** Options of {@link createServer}: those of `IpcServer`, with the poller and transport optional. */
export type CreateServerOptions = Partial<IpcServerOptions> & {
  /** Options of the default transport's listening sockets (socket file mode, backlog), `shm:` addresses' too. */
  readonly socket?: SocketTransportOptions;
  /** Options of the default transport for `shm:` addresses (ring size). */
  readonly shm?: ShmTransportOptions;
  /**
   * Tell the service manager through `NOTIFY_SOCKET`, when it is set (`sd_notify`, for a systemd
   * unit of `Type=notify`): `READY=1` once the server listens (with `STATUS=` naming its
   * addresses, again after each further listen), `STOPPING=1` when it begins to close. A
   * notification that fails is emitted as `'error'` (or printed as a process warning) and the
   * server goes on serving. Turn it off to send `READY=1` yourself with
   * {@link notifyServiceManager}, e.g. after listening on several addresses, or for all but one of
   * several servers in one process. Default `true`.
   */
  readonly notifyServiceManager?: boolean;
};

/**
 * Makes an {@link IpcServer} on Node's event loop and Unix sockets unless told otherwise (an
 * address written `shm:<address>` listens over shared memory instead, see `ShmTransport`), which
 * tells a service manager that started it when it is ready and when it stops (see
 * `notifyServiceManager` in {@link CreateServerOptions}).
 *
 * @throws {@link IpcError} `EINVAL` for an out-of-range option.
 */
export function createServer(options: CreateServerOptions = {}): IpcServer {
  const { socket, shm, notifyServiceManager: notify = true, ...rest } = options;
  const server = new IpcServer({
    ...rest,
    poller: options.poller ?? defaultPoller(),
    transport: options.transport ?? new AddressTransport(socket, shm),
  });
  if (notify) reportToServiceManager(server);
  return server;
}

/** Options of {@link connect}: those of `IpcClient.connect` without `service`, poller and transport optional. */
export type ConnectOptions = Partial<Omit<IpcClientOptions, 'service'>>;

/**
 * Connects to `service` (id or name) of the server at `address` (socket path, or `@name` for
 * the abstract namespace; `shm:<address>` for shared memory, see `ShmTransport`), on Node's event
 * loop and Unix sockets unless told otherwise.
 *
 * @throws {@link IpcError} as {@link IpcClient.connect}.
 */
export function connect(address: string, service: number | string, options: ConnectOptions = {}): Promise<IpcClient> {
  return IpcClient.connect(address, clientOptions(options, service));
}

/**
 * Makes a client for `service` (id or name) of the server at `address` and connects it in the
 * background: requests made at once are written with the handshake's hello, saving a round trip
 * (see `IpcClient.open`). On Node's event loop and Unix sockets unless told otherwise.
 *
 * @throws {@link IpcError} `EINVAL` for bad options; connection failures reject `client.ready`
 * and every request made meanwhile (see `IpcClient.open`).
 */
export function openClient(address: string, service: number | string, options: ConnectOptions = {}): IpcClient {
  return IpcClient.open(address, clientOptions(options, service));
}

/**
 * The caller's options with the service, and Node's loop and the address transport unless it
 * chose others. Copied with `Object.assign`, not an object spread: measured on a client that
 * connects, makes one request and closes, 10,000 times, passing `{ poller }` through a spread
 * cost 56–68 µs of user CPU per connect against 33–40 µs (and 17 MiB more RSS), where passing no
 * option at all cost 31–45 µs; the slowdown was spread over every function of the connection.
 */
function clientOptions(options: ConnectOptions, service: number | string): IpcClientOptions {
  return Object.assign({}, options, {
    service,
    poller: options.poller ?? defaultPoller(),
    transport: options.transport ?? new AddressTransport(),
  });
}
