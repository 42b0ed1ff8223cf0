// The package's entry point (`pollux`): the batteries-included facade over every package.
/**
 * pollux with defaults: an IPC server and clients on Node's event loop over Unix sockets, in a
 * handful of lines. Everything from `@pollux/core` is re-exported for typed use.
 *
 * @packageDocumentation
 */
export * from '@pollux/core';
export { NodePoller } from '@pollux/poll-node';
export { SocketTransport, notifyServiceManager, type SocketTransportOptions } from '@pollux/transport-socket';
export { ShmTransport, type ShmTransportOptions } from '@pollux/transport-shm';
export { AddressTransport, SHM_PREFIX } from './address-transport.js';
export {
  connect,
  createServer,
  defaultPoller,
  openClient,
  type ConnectOptions,
  type CreateServerOptions,
} from './defaults.js';
export { connectSync, pollFd, type ConnectSyncOptions } from './connect-sync.js';
export {
  spawnWithChannel,
  connectInherited,
  CHANNEL_FD_ENV,
  type ConnectInheritedOptions,
} from './spawn-with-channel.js';
