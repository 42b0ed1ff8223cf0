// Exit statuses of the pollux command (sysexits), and the failure that carries one.
import { IpcError } from 'pollux';

/**
 * What the `pollux` command exits with, from `sysexits.h` where one fits, so scripts can tell
 * "the server said no" from "there is no server" from "try again".
 */
export const ExitCode = {
  /** Done. */
  Ok: 0,
  /** The server answered the call with an error (its code is printed). */
  RemoteError: 1,
  /** The command line was wrong (`EX_USAGE`). */
  Usage: 64,
  /** A payload file could not be read (`EX_NOINPUT`). */
  NoInput: 66,
  /** No server at the address, no such service, or introspection is not enabled (`EX_UNAVAILABLE`). */
  Unavailable: 69,
  /** The server did not answer in time, or is full: try again (`EX_TEMPFAIL`). */
  TempFail: 75,
  /** The connection broke or the peer broke the protocol (`EX_PROTOCOL`). */
  Protocol: 76,
  /** The server refused this user (`EX_NOPERM`). */
  NoPerm: 77,
} as const;

/** One of the {@link ExitCode} values. */
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

const UNAVAILABLE = new Set(['ENOENT', 'ENXIO', 'ECONNREFUSED', 'ENOTCONN', 'ENOTSOCK']);
const TEMPFAIL = new Set(['ETIMEDOUT', 'EAGAIN']);
const NOPERM = new Set(['EACCES', 'EPERM']);

/** The exit code for a failure to reach or talk to a server (not an answer of its handler). */
export function exitCodeForConnectionError(error: IpcError): ExitCodeValue {
  if (UNAVAILABLE.has(error.code)) return ExitCode.Unavailable;
  if (TEMPFAIL.has(error.code)) return ExitCode.TempFail;
  if (NOPERM.has(error.code)) return ExitCode.NoPerm;
  if (error.code === 'EINVAL') return ExitCode.Usage;
  return ExitCode.Protocol;
}

/** A failure the command reports and exits with. */
export class CommandFailure extends Error {
  readonly exitCode: ExitCodeValue;
  /** The errno-style code, when an {@link IpcError} caused it. */
  readonly code: string | undefined;

  constructor(exitCode: ExitCodeValue, message: string, code?: string) {
    super(message);
    this.exitCode = exitCode;
    this.code = code;
  }

  /** A connection-level failure of talking to `address`. */
  static fromConnection(error: unknown, what: string): CommandFailure {
    const failure = IpcError.from(error, 'EIO');
    return new CommandFailure(
      exitCodeForConnectionError(failure),
      `${what}: ${failure.code}: ${failure.message}`,
      failure.code,
    );
  }
}
