// Every mapping between NATS's failures and IpcError, both ways: an IpcError crosses NATS as a
// NATS service error whose pollux code travels in a header; NATS's own refusals become IpcErrors.
import { IpcError, isErrnoCode, type IpcErrorCode } from '@pollux/core';
import {
  ErrorCode,
  ServiceErrorCodeHeader,
  ServiceErrorHeader,
  headers,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
} from 'nats';
import type { ServiceSubjects } from './subjects.js';

/** The header that carries an error's errno-style pollux code (`ENOSYS`, `ETIMEDOUT`, …). */
export const POLLUX_ERROR_HEADER = 'Pollux-Error';

/**
 * The HTTP-like status the NATS services API wants beside each error, so NATS tools and clients
 * in other languages, which know nothing of errno names, still tell a refusal from a failure.
 */
const STATUS_OF: Readonly<Partial<Record<string, number>>> = {
  EINVAL: 400,
  EBADMSG: 400,
  EACCES: 403,
  EPERM: 403,
  ENOENT: 404,
  ENXIO: 404,
  EMSGSIZE: 413,
  ENOSYS: 501,
  EAGAIN: 503,
  ECONNREFUSED: 503,
  ECONNRESET: 503,
  ENOTCONN: 503,
  ESHUTDOWN: 503,
  ETIMEDOUT: 504,
};

/** The NATS service status of an error code: 500 for any code not named above. */
export function serviceStatus(code: IpcErrorCode): number {
  return STATUS_OF[code] ?? 500;
}

/** Header values are one line: a message with line breaks must not end the header block early. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}

/** The headers of a NATS service error that carries `error`. */
export function errorHeaders(error: IpcError): MsgHdrs {
  const fields = headers();
  fields.set(ServiceErrorCodeHeader, String(serviceStatus(error.code)));
  fields.set(ServiceErrorHeader, oneLine(error.message));
  fields.set(POLLUX_ERROR_HEADER, error.code);
  return fields;
}

/**
 * The error a reply carries, if it carries one: the `IpcError` a bridge sent, rebuilt with its
 * code; a service error without a pollux code (a responder that is not a pollux bridge) as
 * `EREMOTEIO`; the NATS server's "no responders" status as `ENOENT`, described by `noResponder`.
 */
export function replyError(reply: Msg, noResponder: () => IpcError): IpcError | undefined {
  const fields = reply.headers;
  if (fields === undefined) return undefined;
  if (fields.hasError && String(fields.code) === ErrorCode.NoResponders && reply.data.length === 0)
    return noResponder();
  const description = fields.get(ServiceErrorHeader);
  const status = fields.get(ServiceErrorCodeHeader);
  if (description === '' && status === '') return undefined;
  const code = fields.get(POLLUX_ERROR_HEADER);
  if (isErrnoCode(code)) return new IpcError(code, description);
  return new IpcError(
    'EREMOTEIO',
    `the responder failed with NATS service error ${status || '(no status)'}: ${description || '(no description)'}`,
  );
}

/** `ENOENT`, as for a local service nobody listens for: the subject has no subscriber on NATS. */
export function noBridge(subjects: ServiceSubjects, what: string): IpcError {
  return new IpcError(
    'ENOENT',
    `${what} under "${subjects.root}" on NATS (no responders): start a bridge that allows it, or check the prefix and service`,
  );
}

/** `EACCES`: the NATS server refused a publish to `subject` by its permissions. */
export function publishDenied(subject: string): IpcError {
  return new IpcError(
    'EACCES',
    `the NATS server refused this client's request to ${subject}: its NATS user lacks the permission to publish there`,
  );
}

/** The `code` of an error the `nats` package threw (its `ErrorCode`), if it has one. */
function natsCode(cause: unknown): unknown {
  return (cause as { code?: unknown } | undefined)?.code;
}

/**
 * What NATS's refusal to send `what` (a request, a response, an event) means to a pollux user:
 * `EMSGSIZE` beyond the NATS server's `max_payload`, `ENOTCONN` on a closed connection, `EIO`
 * for anything else.
 */
export function natsRefusal(cause: unknown, what: string, nats: NatsConnection): IpcError {
  switch (natsCode(cause)) {
    case ErrorCode.MaxPayloadExceeded:
      return new IpcError(
        'EMSGSIZE',
        `${what} exceeds the NATS server's max_payload of ${nats.info?.max_payload ?? '?'} bytes: raise max_payload in the NATS server's configuration, or send less`,
        { cause },
      );
    case ErrorCode.ConnectionClosed:
      return new IpcError('ENOTCONN', `NATS refused ${what}: the NATS connection is closed, connect again`, {
        cause,
      });
    default:
      return new IpcError('EIO', `NATS refused ${what}: ${(cause as Error).message}`, { cause });
  }
}

/** What the failure of a look-up in the NATS services API (a NATS request to `$SRV.INFO.…`) means. */
export function lookupError(
  cause: unknown,
  subjects: ServiceSubjects,
  timeout: number,
  nats: NatsConnection,
): IpcError {
  switch (natsCode(cause)) {
    case ErrorCode.NoResponders:
      return noBridge(subjects, `no bridge serves service "${subjects.token}"`);
    case ErrorCode.Timeout:
      return new IpcError('ETIMEDOUT', `no bridge of service "${subjects.token}" answered within ${timeout} ms`, {
        cause,
      });
    default:
      return natsRefusal(cause, `the look-up of service "${subjects.token}"`, nats);
  }
}
