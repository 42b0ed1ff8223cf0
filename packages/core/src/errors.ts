// IpcError and errno-style codes (shared by every layer).
import { constants } from 'node:os';
import { describeValue as describe, safeString } from './describe-value.js';

const brand = Symbol.for('pollux.IpcError');

/**
 * The codes pollux itself reports, each with one meaning (see the package README). Node's own
 * codes (`ERR_INVALID_ARG_TYPE`, …) are never among them.
 */
export type KnownErrorCode =
  | 'EACCES'
  | 'EADDRINUSE'
  | 'EAGAIN'
  | 'EBADF'
  | 'EBADMSG'
  | 'EBUSY'
  | 'ECANCELED'
  | 'ECONNABORTED'
  | 'ECONNREFUSED'
  | 'ECONNRESET'
  | 'EEXIST'
  | 'EFAULT'
  | 'EINTR'
  | 'EINVAL'
  | 'EIO'
  | 'ELOOP'
  | 'EMFILE'
  | 'EMSGSIZE'
  | 'ENAMETOOLONG'
  | 'ENFILE'
  | 'ENOBUFS'
  | 'ENOENT'
  | 'ENOMEM'
  | 'ENOSPC'
  | 'ENOSYS'
  | 'ENOTCONN'
  | 'ENOTSUP'
  | 'ENOTDIR'
  | 'ENXIO'
  | 'EPERM'
  | 'EPIPE'
  | 'EPROTO'
  | 'EPROTONOSUPPORT'
  | 'EREMOTEIO'
  | 'ESHUTDOWN'
  | 'ETIMEDOUT';

declare const errnoCodeBrand: unique symbol;

/**
 * Any other errno name (`ENOSPC`, `EDQUOT`, …): a failed system call, a service's own choice, or
 * a code that came over the wire. Only {@link errnoCode} (or a check pollux makes itself)
 * produces one, so a value of this type has been validated, not merely typed.
 */
export type ErrnoCode = string & { readonly [errnoCodeBrand]: true };

/**
 * An {@link IpcError}'s code: one of pollux's own, or another errno name that was checked.
 * Compare it with string literals as usual: `error.code === 'EAGAIN'`.
 */
export type IpcErrorCode = KnownErrorCode | ErrnoCode;

/**
 * An errno name: `E`, then capitals and digits (`EAGAIN`, `E2BIG`). No errno name has an
 * underscore, while every Node.js code (`ERR_INVALID_ARG_TYPE`) has one: only errno names travel.
 */
const errnoPattern = /^E[A-Z0-9]{1,31}$/;

const errnoNames: ReadonlyMap<number, IpcErrorCode> = new Map(
  Object.entries(constants.errno).map(([name, value]) => [value, name as IpcErrorCode]),
);

/** Whether `value` is an errno name that may be an {@link IpcError}'s code and travel over the wire. */
export function isErrnoCode(value: unknown): value is IpcErrorCode {
  return typeof value === 'string' && errnoPattern.test(value);
}

/**
 * Checks an errno name chosen at run time (a service's own code, a value from a config file),
 * for {@link IpcError} or an `accept` hook; literals of {@link KnownErrorCode} need no check.
 *
 * @param value - e.g. `"ENOSPC"`
 * @throws {@link IpcError} `EINVAL` when `value` is not an errno name (`ERR_*` codes included).
 */
export function errnoCode(value: string): IpcErrorCode {
  if (!isErrnoCode(value)) {
    throw new IpcError(
      'EINVAL',
      `error code must be an errno name such as 'EIO' or 'ENOSPC', got ${describe(value)}: wrap other errors with IpcError.from(error, fallbackCode)`,
    );
  }
  return value;
}

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
  /** The errno name, e.g. `ECONNREFUSED`: never a Node.js `ERR_*` code. */
  readonly code: IpcErrorCode;

  /**
   * @param code - errno name such as `EPROTO`; check one chosen at run time with {@link errnoCode}
   * @param message - what happened and what to do about it
   * @param options - optional cause
   * @throws {@link IpcError} `EINVAL` when `code` is not an errno name (possible only from
   * untyped code): a code that is not one must never reach a peer.
   */
  constructor(code: IpcErrorCode, message: string, options?: IpcErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = errnoCode(code);
  }

  override get name(): string {
    return 'IpcError';
  }

  /**
   * Brand check, so errors from another copy of the package still match. Subclasses keep the
   * ordinary prototype check.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class on the right of `instanceof`, a subclass too
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
   * Turns anything thrown into an `IpcError`, keeping the value's `code` when it is an errno name
   * (a `SysError` from `@pollux/sys`, a Node.js system error) and `fallbackCode` otherwise: a
   * Node.js `ERR_*` code is replaced, the original error kept as `cause`.
   *
   * @param value - what was thrown
   * @param fallbackCode - code to use when `value` carries no errno name
   */
  static from(value: unknown, fallbackCode: IpcErrorCode): IpcError {
    if (value instanceof IpcError) return value;
    if (value instanceof Error) {
      const code = (value as { code?: unknown }).code;
      return new IpcError(isErrnoCode(code) ? code : fallbackCode, value.message, { cause: value });
    }
    return new IpcError(fallbackCode, safeString(value));
  }
}

Object.defineProperty(IpcError.prototype, brand, { value: true });

/**
 * An {@link IpcError} for how a connection ended in the ordinary way (a goodbye, a close): no
 * stack trace, which is most of an error's cost (~8 of ~9 µs here) and would only point into the
 * engine, so that a short-lived connection does not pay for one on every close.
 */
export function endingReason(code: IpcErrorCode, message: string): IpcError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new IpcError(code, message);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * Name of an errno value (`-104` → `ECONNRESET`).
 *
 * @param errno - negative or positive errno value
 */
export function errnoName(errno: number): IpcErrorCode {
  return errnoNames.get(Math.abs(errno)) ?? (`EUNKNOWN${Math.abs(errno)}` as ErrnoCode);
}

/** Negative errno values the engines test for on hot paths, named once. */
export const EAGAIN = -constants.errno.EAGAIN;
/** The peer reset the connection. */
export const ECONNRESET = -constants.errno.ECONNRESET;
/** Writing to a connection the peer has closed. */
export const EPIPE = -constants.errno.EPIPE;
/** A connection that was reset while it waited in the accept queue. */
export const ECONNABORTED = -constants.errno.ECONNABORTED;
