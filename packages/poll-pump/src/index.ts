// The package's entry point (`@pollux/poll-pump`).
/**
 * `PumpPoller`: a pollux `Poller` the application drives itself, one wait (epoll or `poll(2)`) per
 * {@link PumpPoller.pump} call, for hosts that own their loop (a compositor's frame loop, a game
 * loop, a C host embedding Node).
 *
 * @packageDocumentation
 */
export { PumpPoller, type PumpPollerOptions } from './pump-poller.js';
export { pumpOnNodeLoop } from './node-loop-driver.js';
