// The package's entry point (`@pollux/bridge-nats`): the bridge, the remote client and the subject scheme.
/**
 * Serves pollux services over NATS: {@link NatsBridge} connects to a pollux server as a client
 * and serves the commands and events it is told to on NATS subjects, in a queue group, registered
 * with the NATS services API; {@link RemoteClient} calls them from any host with the API and the
 * error codes of a local `IpcClient`.
 *
 * @packageDocumentation
 */
export {
  NatsBridge,
  type BridgedService,
  type NatsBridgeEvents,
  type NatsBridgeOptions,
  type NatsBridgeStats,
} from './bridge.js';
export {
  RemoteClient,
  type RemoteClientEvents,
  type RemoteClientOptions,
  type RemoteClientStats,
} from './remote-client.js';
export { DEFAULT_PREFIX, DEFAULT_QUEUE, ServiceSubjects } from './subjects.js';
export { POLLUX_ERROR_HEADER, serviceStatus } from './wire-errors.js';
export { BRIDGE_PROTOCOL_VERSION, SERVICE_METADATA } from './service-metadata.js';
