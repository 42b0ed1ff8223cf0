// The package's entry point (`@pollux/transport-socket`).
export { SocketTransport, type SocketTransportOptions } from './socket-transport.js';
export { notifyServiceManager } from './service-manager.js';
export { handOverInherited, receiveHandOver } from './socket-handover.js';
