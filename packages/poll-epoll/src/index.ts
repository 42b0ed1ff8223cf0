export { EpollPoller } from './epoll-poller.js';
