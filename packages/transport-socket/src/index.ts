export { SocketTransport, type SocketTransportOptions } from './socket-transport.js';
export { handOverInherited, receiveHandOver } from './socket-handover.js';
