import { IpcError } from './errors.js';
import { MAX_MESSAGE_SIZE_LIMIT } from './frame.js';
import type { Poller } from './poller.js';
import { byteLimit, count, deadline, duration, messageSize, oneOf, serviceChoice } from './option-checks.js';
import type { Transport } from './transport.js';

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
}

/** Options of {@link IpcClient.connect}. */
export interface IpcClientOptions {
  /** The service to talk to: its id (0–65535) or its name. */
  readonly service: number | string;
  /** The event loop that drives this client. */
  readonly poller: Poller;
  /** How to reach the server (e.g. Unix sockets). */
  readonly transport: Transport;
  /** Largest message this client wants to handle; the server may agree a smaller one. Default: the server's. */
  readonly maxMessageSize?: number;
  /** Give up on one attempt when its handshake has not completed after this many ms. Default 5000. */
  readonly timeout?: number;
  /** Aborts connecting, retries included. */
  readonly signal?: AbortSignal;
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
}

/** {@link IpcClientOptions} checked, with every default filled in. */
export interface ClientSettings {
  readonly maxMessage: number;
  readonly handshakeTimeout: number;
  readonly retry: RetryPolicy | undefined;
  readonly reconnect: RetryPolicy | undefined;
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
    maxMessage: messageSize(options.maxMessageSize ?? MAX_MESSAGE_SIZE_LIMIT),
    handshakeTimeout: duration('timeout', options.timeout ?? 5000),
    retry: retryPolicy('retry', options.retry, 30_000),
    reconnect: retryPolicy('reconnect', options.reconnect, Number.POSITIVE_INFINITY),
    queueWhileDisconnected: oneOf('whileDisconnected', options.whileDisconnected ?? 'reject', ['queue', 'reject']) === 'queue',
    queueLimit: count('queueLimit', options.queueLimit ?? 1024),
    sendQueueHighWater: byteLimit('sendQueueHighWater', options.sendQueueHighWater ?? 4 * 1024 * 1024),
    waitWhenFlowControlled: oneOf('whenFlowControlled', options.whenFlowControlled ?? 'wait', ['wait', 'reject']) === 'wait',
  };
}

function retryPolicy(name: string, value: boolean | RetryOptions | undefined, defaultDeadline: number): RetryPolicy | undefined {
  if (value === undefined || value === false) return undefined;
  const options = value === true ? {} : value;
  const initialDelay = duration(`${name}.initialDelay`, options.initialDelay ?? 50);
  const maxDelay = duration(`${name}.maxDelay`, options.maxDelay ?? 1000);
  if (maxDelay < initialDelay) throw new IpcError('EINVAL', `${name}.maxDelay (${maxDelay}) must not be below ${name}.initialDelay (${initialDelay})`);
  return { deadline: deadline(`${name}.deadline`, options.deadline ?? defaultDeadline), initialDelay, maxDelay };
}
