// The package's main entry point (`@pollux/core`): the public API of every layer.
export {
  IpcError,
  errnoCode,
  errnoName,
  isErrnoCode,
  type ErrnoCode,
  type IpcErrorCode,
  type IpcErrorOptions,
  type KnownErrorCode,
} from './errors.js';
export {
  MAX_TIMER_DELAY,
  Ready,
  type DispatchFn,
  type Poller,
  type ReadyMask,
  type Timer,
} from './contracts/poller.js';
export { JobQueue, runAsMicrotask } from './contracts/job-queue.js';
export { TimerQueue } from './contracts/timer-queue.js';
export { nodeTimer } from './contracts/node-timer.js';
export { interestEvents, type EventBits } from './contracts/interest-events.js';
export { readinessFrom, type ReadinessBits } from './contracts/readiness.js';
export type { Channel, Credentials, Listener, Transport } from './contracts/transport.js';
export {
  diagnostics,
  type ConnectionCloseMessage,
  type ConnectionOpenMessage,
  type ProtocolErrorMessage,
  type RequestFinishMessage,
  type RequestStartMessage,
} from './server/diagnostics.js';
export type {
  AcceptHook,
  CommandHandler,
  CommandSelector,
  HandlerFailure,
  ServiceDefinition,
} from './server/service.js';
export { Connection } from './server/connection.js';
export { MessageWithFds } from './server/with-fds.js';
export { ReceivedFds } from './link/received-fds.js';
export type { ConnectionInfo, ConnectionStats, ServerStats, ServiceStats, TrafficStats } from './stats.js';
export type { RateLimit } from './server/rate-limit.js';
export type { EventQueueFullPolicy } from './server/server-session.js';
export { HostedService, type BroadcastFilter, type BroadcastResult } from './server/hosted-service.js';
export {
  IpcServer,
  type IdleAction,
  type IpcServerCloseOptions,
  type IpcServerEvents,
  type IpcServerOptions,
} from './server/server.js';
export { IpcClient, type CloseOptions, type IpcClientEvents } from './client/client.js';
export type { IpcClientOptions, RetryOptions, ServerIdentity } from './client/client-options.js';
export type { ClientStats, ReceivedMessage, RequestOptions } from './client/client-session.js';
export {
  SyncClient,
  type ReceivedEvent,
  type SyncClientOptions,
  type SyncClientStats,
  type SyncConnector,
  type SyncRequestOptions,
  type WaitForFd,
} from './client/sync-client.js';
export {
  bytesCodec,
  emptyCodec,
  jsonCodec,
  schemaCodec,
  structuredCloneCodec,
  utf8Codec,
  type Codec,
  type CodecValue,
} from './protocol/codec.js';
export {
  defineContract,
  type CommandContract,
  type EventContract,
  type EventPayloadOf,
  type RequestOf,
  type ResponseOf,
  type ServiceContract,
} from './protocol/contract.js';
export {
  contractEvents,
  implementContract,
  type ContractEventEncoders,
  type ContractHandler,
  type ContractHandlers,
  type ContractImplementation,
  type EncodedEvent,
} from './server/contract-service.js';
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
  type ContractTarget,
  type Subscription,
} from './client/contract-client.js';
export {
  INTROSPECTION_SERVICE_ID,
  INTROSPECTION_SERVICE_NAME,
  IntrospectionCommand,
} from './protocol/introspection.js';
export type { IntrospectionOptions } from './server/introspection-service.js';
export { fetchConnections, fetchServerStats } from './client/introspection-client.js';
