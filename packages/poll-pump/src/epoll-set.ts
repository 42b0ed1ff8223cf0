// EpollSet: a pump's fds in an epoll(7) set, so a wait costs per ready fd, not per watched fd.
import { interestEvents, IpcError, type ReadinessBits } from '@pollux/core';
import {
  close,
  EPOLLERR,
  EPOLLHUP,
  EPOLLIN,
  EPOLLOUT,
  EPOLLRDHUP,
  epollAdd,
  epollCreate,
  epollModify,
  epollRemove,
  epollWait,
  poll,
} from '@pollux/sys';
import type { Registration, WaitSet } from './wait-set.js';

const INITIAL_CAPACITY = 64;
/** More ready fds than this in one wait are handed out by the next (level-triggered, round-robin). */
const MAX_CAPACITY = 4096;
const NO_FDS = new Int32Array(0);

/**
 * An epoll set: each wait costs in proportion to the fds that are ready, and a change of interest
 * is an `epoll_ctl` (skipped when the events stay the same). A registration's `setState` is the
 * events registered for it. The epoll fd exists only while an fd is watched, so an idle pump holds
 * no fd of its own and a host that never closes the poller leaks nothing.
 */
export class EpollSet implements WaitSet {
  readonly bits: ReadinessBits = {
    readable: EPOLLIN,
    hangUp: EPOLLRDHUP,
    writable: EPOLLOUT,
    hangUpBoth: EPOLLHUP,
    error: EPOLLERR,
  };
  readonly found: (Registration | undefined)[] = [];
  foundEvents = new Int32Array(INITIAL_CAPACITY);
  private readyFds = new Int32Array(INITIAL_CAPACITY);
  private epfd = -1;
  private count = 0;
  /** The last wait filled every slot: more fds may be ready than fit, so the next gets more room. */
  private full = false;

  /** @param byFd - the pump's registrations, to find the one an fd number reported stands for */
  constructor(private readonly byFd: ReadonlyMap<number, Registration>) {}

  add(registration: Registration): void {
    if (this.epfd < 0) {
      const epfd = epollCreate();
      if (epfd < 0) throw IpcError.fromErrno(epfd, 'epoll_create1');
      this.epfd = epfd;
    }
    const events = interestEvents(registration.interest, this.bits);
    const rc = epollAdd(this.epfd, registration.fd, events);
    if (rc < 0) {
      if (this.count === 0) this.release();
      throw IpcError.fromErrno(rc, `epoll_ctl(EPOLL_CTL_ADD) of fd ${registration.fd}`);
    }
    registration.setState = events;
    this.count++;
  }

  modify(registration: Registration): void {
    const events = interestEvents(registration.interest, this.bits);
    if (events === registration.setState) return;
    const rc = epollModify(this.epfd, registration.fd, events);
    // ENOENT or EBADF: the fd was closed before it was removed, and the kernel dropped it.
    if (rc < 0) throw IpcError.fromErrno(rc, `epoll_ctl(EPOLL_CTL_MOD) of fd ${registration.fd}`);
    registration.setState = events;
  }

  remove(registration: Registration): void {
    // Fails only for an fd closed before its removal, which the kernel has dropped already.
    epollRemove(this.epfd, registration.fd);
    if (--this.count === 0) this.release();
  }

  wait(timeoutMs: number): number {
    // With nothing watched there is no epoll fd: sleep in poll(2) over no fds instead.
    if (this.epfd < 0) {
      const rc = poll(NO_FDS, NO_FDS, NO_FDS, 0, timeoutMs);
      if (rc < 0) throw IpcError.fromErrno(rc, 'poll(2)');
      return 0;
    }
    if (this.full && this.readyFds.length < MAX_CAPACITY) {
      this.readyFds = new Int32Array(this.readyFds.length * 2);
      this.foundEvents = new Int32Array(this.readyFds.length);
    }
    const ready = epollWait(this.epfd, this.readyFds, this.foundEvents, timeoutMs);
    if (ready < 0) throw IpcError.fromErrno(ready, 'epoll_wait');
    this.full = ready === this.readyFds.length;
    // Looked up before any callback runs: a callback may remove an fd and add its number anew.
    for (let i = 0; i < ready; i++) this.found[i] = this.byFd.get(this.readyFds[i]!);
    return ready;
  }

  private release(): void {
    close(this.epfd);
    this.epfd = -1;
  }
}
