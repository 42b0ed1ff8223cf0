// The package's entry point (`@pollux/poll-epoll`).
export { EpollPoller } from './epoll-poller.js';
