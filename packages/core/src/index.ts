export { IpcError, errnoCode, errnoName, isErrnoCode, type ErrnoCode, type IpcErrorCode, type IpcErrorOptions, type KnownErrorCode } from './errors.js';
export { Ready, type DispatchFn, type Poller, type ReadyMask } from './poller.js';
export { JobQueue } from './job-queue.js';
export { interestEvents, type EventBits } from './interest-events.js';
export type { Channel, Credentials, Listener, Transport } from './transport.js';
export type { AcceptHook, CommandHandler, CommandSelector, HandlerFailure, ServiceDefinition } from './service.js';
export { Connection } from './connection.js';
export type { ConnectionInfo, ConnectionStats, ServerStats, ServiceStats, TrafficStats } from './stats.js';
export type { RateLimit } from './rate-limit.js';
export type { EventQueueFullPolicy } from './server-session.js';
export { HostedService, type BroadcastFilter, type BroadcastResult } from './hosted-service.js';
export { IpcServer, type IpcServerCloseOptions, type IpcServerEvents, type IpcServerOptions } from './server.js';
export { IpcClient, type CloseOptions, type IpcClientEvents } from './client.js';
export type { IpcClientOptions, RetryOptions, ServerIdentity } from './client-options.js';
export type { ClientStats, RequestOptions } from './client-session.js';
export {
  SyncClient,
  type ReceivedEvent,
  type SyncClientOptions,
  type SyncClientStats,
  type SyncConnector,
  type SyncRequestOptions,
  type WaitForFd,
} from './sync-client.js';
export {
  bytesCodec,
  emptyCodec,
  jsonCodec,
  schemaCodec,
  structuredCloneCodec,
  utf8Codec,
  type Codec,
  type CodecValue,
} from './codec.js';
export {
  defineContract,
  type CommandContract,
  type EventContract,
  type EventPayloadOf,
  type RequestOf,
  type ResponseOf,
  type ServiceContract,
} from './contract.js';
export {
  contractEvents,
  implementContract,
  type ContractEventEncoders,
  type ContractHandler,
  type ContractHandlers,
  type ContractImplementation,
  type EncodedEvent,
} from './contract-service.js';
export {
  contractClient,
  contractSyncClient,
  type ContractCallArgs,
  type ContractCalls,
  type ContractClient,
  type ContractClientOptions,
  type ContractEvent,
  type ContractSyncCalls,
  type ContractSyncClient,
  type Subscription,
} from './contract-client.js';
export {
  fetchConnections,
  fetchServerStats,
  INTROSPECTION_SERVICE_ID,
  INTROSPECTION_SERVICE_NAME,
  IntrospectionCommand,
  type IntrospectionOptions,
} from './introspection.js';
