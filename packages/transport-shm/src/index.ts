// The package's entry point (`@pollux/transport-shm`).
export { ShmTransport, type ShmTransportOptions } from './shm-transport.js';
