// The package's second entry point (`@pollux/core/testing`): the poller conformance kit and the engine test kit.
/**
 * Test kits. For poller authors, the conformance kit: a vitest suite any `Poller` runs against
 * itself. For engine tests, an in-memory network: {@link MemoryTransport} connects servers and
 * clients with no sockets, and {@link ManualPoller} drives them turn by turn on a clock that moves
 * only when the test moves it, so a test of handshakes, pipelining, backpressure or close races
 * runs in milliseconds. Import from `@pollux/core/testing`; it needs `vitest` installed.
 *
 * @packageDocumentation
 */
export {
  describePollerConformance,
  type ConformanceFds,
  type PollerConformanceOptions,
} from './testing/poller-conformance.js';
export { ManualPoller, type ManualPollerOptions, type ReadinessSource } from './testing/manual-poller.js';
export { MemoryNetwork, type MemoryNetworkOptions } from './testing/memory-network.js';
export { MemoryChannel } from './testing/memory-channel.js';
export { MemoryListener, MemoryTransport } from './testing/memory-transport.js';
