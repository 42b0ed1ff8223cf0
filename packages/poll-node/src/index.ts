// The package's entry point (`@pollux/poll-node`).
export { NodePoller } from './node-poller.js';
