// ReceivedFds: the fds that came with one message, and which of them the receiver took (link layer).
import { IpcError } from '../errors.js';

/** Closes an fd the engine owns. */
export type FdCloser = (fd: number) => void;

const TAKEN = -1;

/**
 * The fds that arrived with one request or event (`SCM_RIGHTS`). Until taken they belong to
 * pollux, which closes every one nobody took once the handler that received them has returned (or
 * its promise settled) or the event's listeners have run: keep an fd by taking it, and it is yours
 * to close. An fd is taken once; the numbers are open, close-on-exec fds of this process.
 */
export class ReceivedFds {
  readonly #fds: number[];
  readonly #close: FdCloser;
  #closed = false;

  /** @internal Made by the engine for each message that carries fds. */
  constructor(fds: number[], close: FdCloser) {
    this.#fds = fds;
    this.#close = close;
  }

  /** How many fds arrived with the message, taken or not. */
  get length(): number {
    return this.#fds.length;
  }

  /**
   * Takes the fd at `index` (in the order the sender listed them): it is yours from now on.
   *
   * @throws {@link IpcError} `EINVAL` when there is no fd at `index`, `EBADF` when it was taken
   * already or pollux has closed it (the handler or listener it came to has returned)
   */
  take(index: number): number {
    const fds = this.#fds;
    if (!Number.isInteger(index) || index < 0 || index >= fds.length) {
      throw new IpcError('EINVAL', `no fd at index ${String(index)}: the message carries ${fds.length}`);
    }
    const fd = fds[index]!;
    if (this.#closed) {
      throw new IpcError('EBADF', `fd ${index} was closed when its handler or listener returned: take fds before then`);
    }
    if (fd === TAKEN) throw new IpcError('EBADF', `fd ${index} was taken already`);
    fds[index] = TAKEN;
    return fd;
  }

  /**
   * Takes every fd not taken yet, in order.
   *
   * @throws {@link IpcError} `EBADF` once pollux has closed them
   */
  takeAll(): number[] {
    if (this.#closed && this.#fds.length > 0) {
      throw new IpcError('EBADF', 'the fds were closed when their handler or listener returned: take fds before then');
    }
    const taken: number[] = [];
    for (let i = 0; i < this.#fds.length; i++) if (this.#fds[i] !== TAKEN) taken.push(this.take(i));
    return taken;
  }

  /** @internal Closes every fd nobody took; later takes fail. Idempotent. */
  closeUntaken(): void {
    if (this.#closed || this.#fds.length === 0) return;
    this.#closed = true;
    const fds = this.#fds;
    for (let i = 0; i < fds.length; i++) {
      const fd = fds[i]!;
      if (fd !== TAKEN) {
        fds[i] = TAKEN;
        this.#close(fd);
      }
    }
  }
}

/** The fds of a message that carries none: shared, since there is nothing to take or close. */
export const NO_FDS: ReceivedFds = new ReceivedFds([], () => {});

/** Closes each of `fds`; the array is the engine's, so it is emptied. */
export function closeAll(fds: number[], close: FdCloser): void {
  for (const fd of fds) close(fd);
  fds.length = 0;
}
