import { IpcClient, IpcServer, type IpcClientOptions, type IpcError, type IpcServerOptions } from '@pollux/core';
import { NodePoller } from '@pollux/poll-node';
import { SocketTransport, type SocketTransportOptions } from '@pollux/transport-socket';

let sharedPoller: NodePoller | undefined;

/** The process-wide {@link NodePoller} the defaults use; created on first use. */
export function defaultPoller(): NodePoller {
  sharedPoller ??= new NodePoller();
  return sharedPoller;
}

/** Options of {@link createServer}: those of `IpcServer`, with the poller and transport optional. */
export type CreateServerOptions = Partial<IpcServerOptions> & {
  /** Options of the default {@link SocketTransport} (socket file mode, backlog). */
  readonly socket?: SocketTransportOptions;
};

/**
 * Makes an {@link IpcServer} on Node's event loop and Unix sockets unless told otherwise.
 *
 * @throws {@link IpcError} `EINVAL` for an out-of-range option.
 */
export function createServer(options: CreateServerOptions = {}): IpcServer {
  const { socket, ...rest } = options;
  return new IpcServer({
    ...rest,
    poller: options.poller ?? defaultPoller(),
    transport: options.transport ?? new SocketTransport(socket),
  });
}

/** Options of {@link connect}: those of `IpcClient.connect` without `service`, poller and transport optional. */
export type ConnectOptions = Partial<Omit<IpcClientOptions, 'service'>>;

/**
 * Connects to `service` (id or name) of the server at `address` (socket path, or `@name` for
 * the abstract namespace), on Node's event loop and Unix sockets unless told otherwise.
 *
 * @throws {@link IpcError} as {@link IpcClient.connect}.
 */
export function connect(address: string, service: number | string, options: ConnectOptions = {}): Promise<IpcClient> {
  return IpcClient.connect(address, {
    ...options,
    service,
    poller: options.poller ?? defaultPoller(),
    transport: options.transport ?? new SocketTransport(),
  });
}
