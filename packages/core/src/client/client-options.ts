// IpcClient's options, checked and resolved once (client layer).
import { gotValue } from '../describe-value.js';
import { IpcError } from '../errors.js';
import { DEFAULT_MAX_MESSAGE_SIZE, MAX_FDS_PER_MESSAGE } from '../protocol/frame.js';
import type { Poller } from '../contracts/poller.js';
import { byteLimit, count, deadline, duration, fdCount, messageSize, oneOf, serviceChoice } from '../option-checks.js';
import type { Credentials, Transport } from '../contracts/transport.js';

/**
 * How to keep trying to connect: attempts spaced by a capped exponential backoff with jitter,
 * until a deadline. Only failures that may pass are retried (nothing listens yet, the backlog is
 * full, the server hung up during the handshake); a refusal by the server is final.
 */
export interface RetryOptions {
  /**
   * Give up after this many ms, with `ETIMEDOUT` (its `cause` is the last attempt's error).
   * Default: 30000 for `retry`, `Infinity` for `reconnect`.
   */
  readonly deadline?: number;
  /** Wait before the first retry, in ms; each further wait doubles, with jitter. Default 50. */
  readonly initialDelay?: number;
  /** Longest wait between two attempts, in ms. Default 1000. */
  readonly maxDelay?: number;
  /**
   * Also wait while the server is up but has no such service yet (`ENXIO`), for a client that
   * may start before its service is registered. Default `false`: a missing service is most often
   * a wrong id or name, which the caller should learn at once rather than at the deadline.
   */
  readonly waitForService?: boolean;
}

/**
 * Who the server must be, checked against the credentials the kernel reports for the listening
 * process (`SO_PEERCRED`) before anything is written to it: the uid and/or gid it must run as,
 * or a predicate that returns `true` for an acceptable server.
 */
export type ServerIdentity = { readonly uid?: number; readonly gid?: number } | ((credentials: Credentials) => boolean);

/** Options of {@link IpcClient.connect}. */
export interface IpcClientOptions {
  /** The service to talk to: its id (0–65535) or its name. */
  readonly service: number | string;
  /** The event loop that drives this client. */
  readonly poller: Poller;
  /** How to reach the server (e.g. Unix sockets). */
  readonly transport: Transport;
  /**
   * Largest message, in bytes, this client lets the server send it (responses and events), and
   * offers to send; the server may agree a smaller one. Default 1 MiB, the server's default: a
   * client that expects bigger messages says so, and no server makes it hold more unasked.
   */
  readonly maxMessageSize?: number;
  /**
   * The most fds (`SCM_RIGHTS`) one response or event from the server may carry, 0–253. Default
   * 253. Fds nobody takes are closed (see `requestWithFds` and the `'event'` listener's `fds`).
   */
  readonly maxFdsPerMessage?: number;
  /** Give up on one attempt when its handshake has not completed after this many ms. Default 5000. */
  readonly timeout?: number;
  /** Aborts connecting, retries included. */
  readonly signal?: AbortSignal;
  /**
   * The server this client trusts, checked on every connection before the hello, requests
   * included, is written; a server that does not match fails the attempt with `EPERM`. Without
   * it, the first connection takes any server, and a reconnection requires the uid of the first
   * connection's server: whoever binds a free address after a crash (any process may bind an
   * abstract name) gets nothing. Give it when the first server matters too (a token in a request).
   */
  readonly expectServer?: ServerIdentity;
  /**
   * Wait for a server that is not up yet: retry connecting instead of failing at once. `true`
   * uses the defaults of {@link RetryOptions}. Default `false`.
   */
  readonly retry?: boolean | RetryOptions;
  /**
   * Connect again, in the background, after the server went away (crashed, restarted, closed the
   * connection). The client emits `disconnect`, then `reconnect` once a new connection is up, or
   * `close` when it gives up. Requests in flight when the connection dropped reject with
   * `ECONNRESET` and are never re-sent. `true` uses the defaults of {@link RetryOptions}. Default `false`.
   */
  readonly reconnect?: boolean | RetryOptions;
  /**
   * What a request made while reconnecting does: `'queue'` waits (in order, honouring its own
   * timeout and signal) and is sent once connected again; `'reject'` fails at once with
   * `ENOTCONN`. Default `'reject'`.
   */
  readonly whileDisconnected?: 'queue' | 'reject';
  /** Most requests that may wait for a reconnection; one more rejects with `EAGAIN`. Default 1024. */
  readonly queueLimit?: number;
  /**
   * Bytes waiting to be written beyond which the client is flow-controlled
   * (`flowControlled`, the `flowControl` event); `Infinity` turns flow control off. Default 4 MiB.
   */
  readonly sendQueueHighWater?: number;
  /**
   * What a request made while flow-controlled does: `'wait'` waits its turn (in order, honouring
   * its own timeout and signal); `'reject'` fails at once with `EAGAIN`. Default `'wait'`.
   */
  readonly whenFlowControlled?: 'wait' | 'reject';
}

/** A {@link RetryOptions} with every default filled in. */
export interface RetryPolicy {
  readonly deadline: number;
  readonly initialDelay: number;
  readonly maxDelay: number;
  readonly waitForService: boolean;
}

/** {@link IpcClientOptions} checked, with every default filled in. */
export interface ClientSettings {
  readonly maxMessage: number;
  readonly maxFds: number;
  readonly handshakeTimeout: number;
  readonly retry: RetryPolicy | undefined;
  readonly reconnect: RetryPolicy | undefined;
  readonly expectServer: ServerIdentity | undefined;
  readonly queueWhileDisconnected: boolean;
  readonly queueLimit: number;
  readonly sendQueueHighWater: number;
  readonly waitWhenFlowControlled: boolean;
}

/**
 * Checks `options` and fills in the defaults.
 *
 * @throws {@link IpcError} `EINVAL` naming the first bad option.
 */
export function clientSettings(options: IpcClientOptions): ClientSettings {
  serviceChoice(options.service);
  return {
    maxMessage: messageSize(options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE),
    maxFds: fdCount('maxFdsPerMessage', options.maxFdsPerMessage ?? MAX_FDS_PER_MESSAGE),
    handshakeTimeout: duration('timeout', options.timeout ?? 5000),
    retry: retryPolicy('retry', options.retry, 30_000),
    reconnect: retryPolicy('reconnect', options.reconnect, Number.POSITIVE_INFINITY),
    expectServer: serverIdentity(options.expectServer),
    queueWhileDisconnected:
      oneOf('whileDisconnected', options.whileDisconnected ?? 'reject', ['queue', 'reject']) === 'queue',
    queueLimit: count('queueLimit', options.queueLimit ?? 1024),
    sendQueueHighWater: byteLimit('sendQueueHighWater', options.sendQueueHighWater ?? 4 * 1024 * 1024),
    waitWhenFlowControlled:
      oneOf('whenFlowControlled', options.whenFlowControlled ?? 'wait', ['wait', 'reject']) === 'wait',
  };
}

function retryPolicy(
  name: string,
  value: boolean | RetryOptions | undefined,
  defaultDeadline: number,
): RetryPolicy | undefined {
  if (value === undefined || value === false) return undefined;
  const options = value === true ? {} : value;
  const initialDelay = duration(`${name}.initialDelay`, options.initialDelay ?? 50);
  const maxDelay = duration(`${name}.maxDelay`, options.maxDelay ?? 1000);
  if (maxDelay < initialDelay)
    throw new IpcError(
      'EINVAL',
      `${name}.maxDelay (${maxDelay}) must not be below ${name}.initialDelay (${initialDelay})`,
    );
  const waitForService = options.waitForService ?? false;
  if (typeof waitForService !== 'boolean')
    throw new IpcError('EINVAL', `${name}.waitForService must be true or false, ${gotValue(waitForService)}`);
  return {
    deadline: deadline(`${name}.deadline`, options.deadline ?? defaultDeadline),
    initialDelay,
    maxDelay,
    waitForService,
  };
}

function serverIdentity(value: ServerIdentity | undefined): ServerIdentity | undefined {
  if (value === undefined || typeof value === 'function') return value;
  const { uid, gid } = value;
  for (const [name, id] of [
    ['uid', uid],
    ['gid', gid],
  ] as const) {
    if (id !== undefined && !(Number.isInteger(id) && id >= 0 && id <= 0xffffffff)) {
      throw new IpcError('EINVAL', `expectServer.${name} must be an integer id in 0–4294967295, ${gotValue(id)}`);
    }
  }
  if (uid === undefined && gid === undefined) {
    throw new IpcError(
      'EINVAL',
      "expectServer must name a uid, a gid or both, or be a function of the server's credentials",
    );
  }
  return value;
}

/**
 * Why a server is not the one `expected` (undefined when it is): `EPERM`, naming what the
 * kernel reported, so the caller sees who holds the address.
 */
export function serverMismatch(
  expected: ServerIdentity,
  credentials: Credentials,
  address: string,
): IpcError | undefined {
  const { pid, uid, gid } = credentials;
  const fits =
    typeof expected === 'function'
      ? expected(credentials) === true
      : (expected.uid === undefined || expected.uid === uid) && (expected.gid === undefined || expected.gid === gid);
  if (fits) return undefined;
  const wanted = typeof expected === 'function' ? 'the expectServer check' : describeIdentity(expected);
  return new IpcError(
    'EPERM',
    `the server at ${address} runs as uid ${uid} gid ${gid} (pid ${pid}), not ${wanted}: another process may hold the address; nothing was sent to it`,
  );
}

function describeIdentity(identity: { readonly uid?: number; readonly gid?: number }): string {
  return [
    identity.uid === undefined ? '' : `uid ${identity.uid}`,
    identity.gid === undefined ? '' : `gid ${identity.gid}`,
  ]
    .filter(Boolean)
    .join(' ');
}
