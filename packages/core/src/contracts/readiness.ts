// readinessFrom: what a backend reported, as the engine's Ready bits, for poller authors (contracts layer).
import type { EventBits } from './interest-events.js';
import { Ready, type Poller, type ReadyMask } from './poller.js';

/** A backend's own event bits: those it is asked for, and those it reports unasked. */
export interface ReadinessBits extends EventBits {
  /** The peer is gone both ways, e.g. `POLLHUP`, `EPOLLHUP`. */
  readonly hangUpBoth: number;
  /**
   * An error is pending on the fd, or the fd is not open: e.g. `POLLERR | POLLNVAL`, `EPOLLERR`.
   * A backend that reports an error some other way (libuv's negative status) passes a bit of its
   * own here and in `events`.
   */
  readonly error: number;
}

/**
 * For poller authors: translates the events a backend reported for an fd into {@link Ready} bits,
 * by the one rule of the {@link Poller} contract, so every poller reports the same. Pure and
 * allocation-free, for the hot path.
 *
 * - `Readable` and `Writable` only while `interest` still wants them: the events may have been
 *   fetched before a `modify`.
 * - `HangUp` for a peer gone both ways, whatever the interest; for a half-close only while
 *   `Readable` is wanted (it is asked for only then, see `interestEvents`, but may have been
 *   fetched before a `modify`).
 * - A readiness bit means the matching call will not block. An error, or a peer gone both ways,
 *   makes every read and write return at once (with the error, end of file or `EPIPE`), so
 *   `Error` and that `HangUp` come with every I/O bit of `interest`; a half-close only with
 *   `Readable`. A dispatcher that does the I/O it is told to learns what happened from that call.
 *
 * @param events - what the backend reported
 * @param interest - what the fd is watched for now, a mask of `Ready.Readable` and `Ready.Writable`
 * @param bits - the backend's bits for each meaning
 */
export function readinessFrom(events: number, interest: ReadyMask, bits: ReadinessBits): ReadyMask {
  const io = interest & (Ready.Readable | Ready.Writable);
  let ready = 0;
  if (events & bits.readable) ready |= Ready.Readable;
  if (events & bits.writable) ready |= Ready.Writable;
  ready &= io;
  if (events & bits.error) ready |= Ready.Error | io;
  if (events & bits.hangUpBoth) ready |= Ready.HangUp | io;
  else if (events & bits.hangUp && io & Ready.Readable) ready |= Ready.HangUp | Ready.Readable;
  return ready;
}
