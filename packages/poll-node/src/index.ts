export { NodePoller } from './node-poller.js';
