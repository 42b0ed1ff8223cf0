// The package's entry point (`@pollux/sys`): every system call pollux makes.
/**
 * The one native addon of pollux: the Linux syscalls Node.js does not expose.
 *
 * Setup calls throw {@link SysError}; hot-path calls return a byte count, an
 * fd or 0 on success and `-errno` on failure, and throw only for malformed
 * arguments.
 *
 * @packageDocumentation
 */
export { SysError, errnoName, errnoMessage } from './sys-error.js';
export {
  socketUnix,
  bindUnix,
  listen,
  socketpair,
  peerCredentials,
  shutdown,
  close,
  setNonBlocking,
  socketError,
  accept,
  connectUnix,
  setCloseOnExec,
  socketInfo,
  socketUnixDatagram,
  sendToUnix,
  type SocketInfo,
} from './unix-socket.js';
export { read, writev, sendmsg, recvmsg } from './io.js';
export { poll, POLLIN, POLLOUT, POLLERR, POLLHUP, POLLNVAL, POLLRDHUP } from './poll.js';
export {
  epollCreate,
  epollAdd,
  epollModify,
  epollRemove,
  epollWait,
  EPOLLIN,
  EPOLLOUT,
  EPOLLERR,
  EPOLLHUP,
  EPOLLRDHUP,
} from './epoll-set.js';
export { FdWatcher, WATCH_READABLE, WATCH_WRITABLE, WATCH_DISCONNECT, WATCH_PRIORITIZED } from './fd-watcher.js';
export {
  memfdCreate,
  addSeals,
  getSeals,
  mmap,
  unmap,
  seqlockFootprint,
  seqlockWrite,
  seqlockRead,
  F_SEAL_SEAL,
  F_SEAL_SHRINK,
  F_SEAL_GROW,
  F_SEAL_WRITE,
  F_SEAL_FUTURE_WRITE,
} from './shared-memory.js';
