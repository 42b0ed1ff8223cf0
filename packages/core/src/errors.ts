import { constants } from 'node:os';

const brand = Symbol.for('pollux.IpcError');

const errnoNames: ReadonlyMap<number, string> = new Map(
  Object.entries(constants.errno).map(([name, value]) => [value, name]),
);

/** A code is errno-style when it looks like `EAGAIN`, `ECONNRESET`, `EPROTO`. */
const errnoStyle = /^E[A-Z0-9_]{1,31}$/;

/** Options for {@link IpcError}. */
export interface IpcErrorOptions {
  /** The error that caused this one. */
  readonly cause?: unknown;
}

/**
 * Every failure pollux reports is an `IpcError`: a stable errno-style {@link IpcError.code}
 * (`EAGAIN`, `ECONNRESET`, `EMSGSIZE`, …) and a message that says what happened and what to do.
 *
 * `instanceof IpcError` holds across duplicate copies of the package, because the check uses a
 * global brand rather than the class identity.
 */
export class IpcError extends Error {
  /** The errno-style code, e.g. `ECONNREFUSED`. */
  readonly code: string;

  /**
   * @param code - errno-style code such as `EPROTO`
   * @param message - what happened and what to do about it
   * @param options - optional cause
   */
  constructor(code: string, message: string, options?: IpcErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }

  override get name(): string {
    return 'IpcError';
  }

  /**
   * Brand check, so errors from another copy of the package still match. Subclasses keep the
   * ordinary prototype check.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== IpcError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
  }

  /**
   * Builds an error from a negative or positive errno value returned by a system call.
   *
   * @param errno - e.g. `-11` or `11` for `EAGAIN`
   * @param what - what was being attempted, e.g. `"connect to /run/app.sock"`
   */
  static fromErrno(errno: number, what: string): IpcError {
    const code = errnoName(errno);
    return new IpcError(code, `${what} failed: ${code}`);
  }

  /**
   * Turns anything thrown into an `IpcError`, keeping an errno-style `code` when the value has one
   * (a `SysError` from `@pollux/sys`, a Node.js system error) and `fallbackCode` otherwise.
   *
   * @param value - what was thrown
   * @param fallbackCode - code to use when `value` carries none
   */
  static from(value: unknown, fallbackCode: string): IpcError {
    if (value instanceof IpcError) return value;
    if (value instanceof Error) {
      const code = (value as { code?: unknown }).code;
      return new IpcError(typeof code === 'string' && errnoStyle.test(code) ? code : fallbackCode, value.message, {
        cause: value,
      });
    }
    return new IpcError(fallbackCode, String(value));
  }
}

Object.defineProperty(IpcError.prototype, brand, { value: true });

/** Whether `code` is a well-formed errno-style code that may travel over the wire. */
export function isErrnoStyle(code: string): boolean {
  return errnoStyle.test(code);
}

/**
 * Name of an errno value (`-104` → `ECONNRESET`).
 *
 * @param errno - negative or positive errno value
 */
export function errnoName(errno: number): string {
  return errnoNames.get(Math.abs(errno)) ?? `EUNKNOWN${Math.abs(errno)}`;
}

/** Negative errno values the engines test for on hot paths, named once. */
export const EAGAIN = -constants.errno.EAGAIN;
/** The peer reset the connection. */
export const ECONNRESET = -constants.errno.ECONNRESET;
/** Writing to a connection the peer has closed. */
export const EPIPE = -constants.errno.EPIPE;
/** A connection that was reset while it waited in the accept queue. */
export const ECONNABORTED = -constants.errno.ECONNABORTED;
