// SysError: a failed system call, with its errno's name as code.
import { native } from './native.js';

const brand = Symbol.for('pollux.SysError');

/**
 * Error thrown by the setup calls of this package when a syscall fails.
 *
 * It carries the errno the way Node's own system errors do: `code` is the
 * symbolic name (`"EADDRINUSE"`), `errno` the positive number, `syscall` the
 * call that failed. `instanceof SysError` also holds for instances created by
 * another copy of this package.
 */
export class SysError extends Error {
  /** Symbolic errno name, e.g. `"EADDRINUSE"` (`"EUNKNOWN"` if the number has no name). */
  readonly code: string;
  /** The errno as a positive number. */
  readonly errno: number;
  /** Name of the failed system call, e.g. `"bind"`. */
  readonly syscall: string;

  /**
   * Builds the error for a failed syscall; also handy for turning a `-errno`
   * returned by a hot-path call into an exception.
   *
   * @param syscall - name of the system call that failed
   * @param errno - the errno, positive or negative (`11` and `-11` both mean `EAGAIN`)
   */
  constructor(syscall: string, errno: number) {
    const positive = Math.abs(errno);
    const code = native.errnoName(positive);
    super(`${code}: ${native.errnoMessage(positive)}, ${syscall}`);
    this.name = 'SysError';
    this.code = code;
    this.errno = positive;
    this.syscall = syscall;
    Object.defineProperty(this, brand, { value: true });
  }

  /**
   * Brand check, so errors from a second copy of the package still match.
   *
   * @param value - the candidate on the left of `instanceof`
   * @returns whether `value` is a SysError (or, for a subclass, an instance of it)
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class on the right of `instanceof`, a subclass too
    if (this !== SysError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && brand in value;
  }
}

native.setErrorClass(SysError);

/**
 * Symbolic name of an errno value, as Node and libuv spell it.
 *
 * @param errno - errno, positive or negative (`11` and `-11` both give `"EAGAIN"`)
 * @returns the name, e.g. `"EAGAIN"`; `"EUNKNOWN"` for a number that is no errno (including 0)
 * @throws RangeError if `errno` is not an integer
 */
export function errnoName(errno: number): string {
  return native.errnoName(errno);
}

/**
 * Human-readable text of an errno value (`strerror`).
 *
 * @param errno - errno, positive or negative
 * @returns the message, e.g. `"Resource temporarily unavailable"`
 * @throws RangeError if `errno` is not an integer
 */
export function errnoMessage(errno: number): string {
  return native.errnoMessage(errno);
}
