// interestEvents: the engine's interest as a backend's own event bits, for poller authors (contracts layer).
import { Ready, type ReadyMask } from './poller.js';

/** A backend's own event bits for reading, peer hang-up and writing. */
export interface EventBits {
  /** Readable, e.g. `POLLIN`, `EPOLLIN`, `UV_READABLE`. */
  readonly readable: number;
  /** The peer shut down its writing side, e.g. `POLLRDHUP`, `EPOLLRDHUP`, `UV_DISCONNECT`. */
  readonly hangUp: number;
  /** Writable, e.g. `POLLOUT`, `EPOLLOUT`, `UV_WRITABLE`. */
  readonly writable: number;
}

/**
 * For poller authors: translates the engine's interest into a backend's event bits, by the one
 * rule every level-triggered backend must follow. The peer's half-close is asked for only while
 * reading: reported while nobody reads (a connection paused under backpressure), a half-closed
 * peer would keep the fd firing forever. An empty interest gives 0, and the fd must stay in
 * whatever is polled: `poll(2)` and epoll report `POLLHUP` and `POLLERR` even for no events, and
 * the {@link Poller} contract promises them whatever the interest.
 *
 * @param interest - a mask of `Ready.Readable` and `Ready.Writable`
 * @param bits - the backend's bits for each
 */
export function interestEvents(interest: ReadyMask, bits: EventBits): number {
  let events = 0;
  if (interest & Ready.Readable) events |= bits.readable | bits.hangUp;
  if (interest & Ready.Writable) events |= bits.writable;
  return events;
}
