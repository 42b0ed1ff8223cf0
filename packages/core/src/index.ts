export { IpcError, errnoName, type IpcErrorOptions } from './errors.js';
export { Ready, type DispatchFn, type Poller, type ReadyMask } from './poller.js';
export type { Channel, Credentials, Listener, Transport } from './transport.js';
export type { AcceptHook, CommandHandler, CommandSelector, ServiceDefinition } from './service.js';
export { Connection } from './connection.js';
export type { ConnectionStats, ServerStats, ServiceStats } from './stats.js';
export { IpcServer, type IpcServerEvents, type IpcServerOptions } from './server.js';
export { IpcClient, type IpcClientEvents, type IpcClientOptions } from './client.js';
export type { ClientStats, RequestOptions } from './client-session.js';
