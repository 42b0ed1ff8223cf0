export { SocketTransport, type SocketTransportOptions } from './socket-transport.js';
