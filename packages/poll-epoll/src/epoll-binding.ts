// The npm `epoll` binding, loaded and typed, with its failures as IpcErrors.
import { createRequire } from 'node:module';
import { IpcError, type KnownErrorCode } from '@pollux/core';

/** The binding's callback: `(error)` when `epoll_wait` failed, else `(null, fd, events)`. */
export type EpollCallback = (error: Error | null, fd?: number, events?: number) => void;

/** One `Epoll` object of the npm `epoll` binding (4.0.2). Every method throws a plain `Error`. */
export interface EpollHandle {
  add(fd: number, events: number): EpollHandle;
  modify(fd: number, events: number): EpollHandle;
  remove(fd: number): EpollHandle;
  /** Removes every fd this object added; throws if called twice. */
  close(): null;
  readonly closed: boolean;
}

interface EpollConstructor {
  new (callback: EpollCallback): EpollHandle;
  readonly EPOLLIN: number;
  readonly EPOLLOUT: number;
  readonly EPOLLRDHUP: number;
  readonly EPOLLERR: number;
  readonly EPOLLHUP: number;
}

/**
 * The binding's constructor. Loading the module creates the binding's single epoll fd and starts
 * its single watcher thread, for the whole process: `Epoll` objects share both.
 */
export const Epoll = (createRequire(import.meta.url)('epoll') as { Epoll: EpollConstructor }).Epoll;

/**
 * glibc's `strerror` texts for what `epoll_ctl` and `epoll_wait` can fail with. The binding throws
 * `new Error(strerror(errno))` and drops the number, so the text is all there is to go on.
 */
const codeByMessage = new Map<string, KnownErrorCode>([
  ['Operation not permitted', 'EPERM'],
  ['No such file or directory', 'ENOENT'],
  ['Interrupted system call', 'EINTR'],
  ['Bad file descriptor', 'EBADF'],
  ['Cannot allocate memory', 'ENOMEM'],
  ['Bad address', 'EFAULT'],
  ['File exists', 'EEXIST'],
  ['Invalid argument', 'EINVAL'],
  ['Too many open files in system', 'ENFILE'],
  ['Too many open files', 'EMFILE'],
  ['No space left on device', 'ENOSPC'],
  ['Too many levels of symbolic links', 'ELOOP'],
]);

/** Turns what the binding threw into an {@link IpcError} with the errno code its text names. */
export function epollError(error: unknown, what: string): IpcError {
  if (error instanceof Error) {
    const code = codeByMessage.get(error.message);
    if (code !== undefined) return new IpcError(code, `${what} failed: ${code} (${error.message})`, { cause: error });
    if (error.message.startsWith('incorrect arguments')) {
      return new IpcError('EINVAL', `${what} failed: ${error.message}`, { cause: error });
    }
  }
  return IpcError.from(error, 'EIO');
}
