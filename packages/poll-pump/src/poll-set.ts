// PollSet: a pump's fds as parallel Int32Arrays for one poll(2) per wait.
import { interestEvents, IpcError, type ReadinessBits } from '@pollux/core';
import { poll, POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT, POLLRDHUP } from '@pollux/sys';
import type { Registration, WaitSet } from './wait-set.js';

const INITIAL_CAPACITY = 16;

function grown(array: Int32Array, capacity: number): Int32Array<ArrayBuffer> {
  const next = new Int32Array(capacity);
  next.set(array);
  return next;
}

/**
 * `poll(2)` over every watched fd: nothing to set up, a change of interest is an array write, and
 * each wait costs in proportion to the fds watched, ready or not. A registration's `setState` is
 * its slot in the arrays, which are doubled when full and compacted by swap-remove.
 */
export class PollSet implements WaitSet {
  /** `POLLNVAL` (a closed fd still watched) counts as an error. */
  readonly bits: ReadinessBits = {
    readable: POLLIN,
    hangUp: POLLRDHUP,
    writable: POLLOUT,
    hangUpBoth: POLLHUP,
    error: POLLERR | POLLNVAL,
  };
  readonly found: (Registration | undefined)[] = [];
  foundEvents = new Int32Array(INITIAL_CAPACITY);
  /** Registrations in slot order, parallel to `fds` and `events`. */
  private readonly slots: (Registration | undefined)[] = [];
  private fds = new Int32Array(INITIAL_CAPACITY);
  private events = new Int32Array(INITIAL_CAPACITY);
  private revents = new Int32Array(INITIAL_CAPACITY);
  private count = 0;

  add(registration: Registration): void {
    if (this.count === this.fds.length) {
      const capacity = this.fds.length * 2;
      this.fds = grown(this.fds, capacity);
      this.events = grown(this.events, capacity);
      this.revents = new Int32Array(capacity);
    }
    registration.setState = this.count++;
    this.slots[registration.setState] = registration;
    this.fds[registration.setState] = registration.fd;
    this.modify(registration);
  }

  modify(registration: Registration): void {
    this.events[registration.setState] = interestEvents(registration.interest, this.bits);
  }

  remove(registration: Registration): void {
    const index = registration.setState;
    const last = --this.count;
    if (index !== last) {
      const moved = this.slots[last]!;
      moved.setState = index;
      this.slots[index] = moved;
      this.fds[index] = this.fds[last]!;
      this.events[index] = this.events[last]!;
    }
    this.slots[last] = undefined;
  }

  wait(timeoutMs: number): number {
    const n = this.count;
    const ready = poll(this.fds, this.events, this.revents, n, timeoutMs);
    if (ready < 0) throw IpcError.fromErrno(ready, 'poll(2)');
    let found = 0;
    if (ready > 0) {
      if (this.foundEvents.length < n) this.foundEvents = new Int32Array(this.fds.length);
      for (let i = 0; i < n && found < ready; i++) {
        const revents = this.revents[i]!;
        if (revents === 0) continue;
        this.found[found] = this.slots[i];
        this.foundEvents[found++] = revents;
      }
    }
    return found;
  }
}
