// How an IpcError crosses NATS: a NATS service error whose pollux code travels in a header.
import { IpcError, isErrnoCode, type IpcErrorCode } from '@pollux/core';
import { ErrorCode, ServiceErrorCodeHeader, ServiceErrorHeader, headers, type Msg, type MsgHdrs } from 'nats';

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
