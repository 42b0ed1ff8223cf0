// Checks of user options shared by client and server, each failing with EINVAL (shared).
import { describeValue, gotValue } from './describe-value.js';
import { IpcError } from './errors.js';
import { isUint16, MAX_FDS_PER_MESSAGE, MAX_MESSAGE_SIZE_LIMIT } from './protocol/frame.js';
import { SERVICE_NAME_MAX } from './protocol/handshake.js';
import { MAX_TIMER_DELAY as TIMER_MAX, type Poller } from './contracts/poller.js';

// Checks of user options shared by client and server: each returns the value or throws `EINVAL`
// naming the option.

/** A largest message size the protocol can carry. */
export function messageSize(value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > MAX_MESSAGE_SIZE_LIMIT) {
    throw new IpcError(
      'EINVAL',
      `maxMessageSize must be a byte count in 1–${MAX_MESSAGE_SIZE_LIMIT}, ${gotValue(value)}`,
    );
  }
  return value;
}

const POLLER_METHODS = ['add', 'modify', 'remove', 'job', 'timer', 'now'] as const;

/**
 * A poller with every method of the contract: one written before `timer` and `now` joined it
 * would fail later, in the middle of a connection.
 */
export function checkPoller(poller: Poller): Poller {
  const missing = POLLER_METHODS.filter(
    (method) => typeof (poller as unknown as Record<string, unknown> | undefined)?.[method] !== 'function',
  );
  if (missing.length > 0) {
    throw new IpcError(
      'EINVAL',
      `poller must implement the Poller contract; it lacks ${missing.join(', ')}: ${describeValue(poller)} (a poller keeps time too since 0.1: see TimerQueue and nodeTimer)`,
    );
  }
  return poller;
}

/** A duration in ms above 0 that a timer can hold. */
export function duration(name: string, value: number): number {
  if (typeof value !== 'number' || !(value > 0) || value > TIMER_MAX) {
    throw new IpcError('EINVAL', `${name} must be a number of ms in 1–${TIMER_MAX}, ${gotValue(value)}`);
  }
  return value;
}

/** A deadline: a duration, or Infinity for none. */
export function deadline(name: string, value: number): number {
  return value === Number.POSITIVE_INFINITY ? value : duration(name, value);
}

/** An integer of 0 or more. */
export function count(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new IpcError('EINVAL', `${name} must be an integer of 0 or more, ${gotValue(value)}`);
  return value;
}

/** `maxFdsPerMessage`: 0 to 253, the most a Unix socket passes with one message. */
export function fdCount(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > MAX_FDS_PER_MESSAGE) {
    throw new IpcError('EINVAL', `${name} must be an integer from 0 to ${MAX_FDS_PER_MESSAGE}, ${gotValue(value)}`);
  }
  return value;
}

/** A byte count, or Infinity for no limit. */
export function byteLimit(name: string, value: number): number {
  return value === Number.POSITIVE_INFINITY ? value : count(name, value);
}

/** A limit above 0, or Infinity for none. */
export function positiveLimit(name: string, value: number): number {
  if (typeof value !== 'number' || !(value > 0))
    throw new IpcError('EINVAL', `${name} must be a positive number, ${gotValue(value)}`);
  return value;
}

/** A number of at least `minimum`, or Infinity; `what` says what the minimum is. */
export function atLeast(name: string, value: number, minimum: number, what: string): number {
  if (typeof value !== 'number' || !(value >= minimum)) {
    throw new IpcError('EINVAL', `${name} must be at least ${what} (${minimum}), got ${String(value)}`);
  }
  return value;
}

/** One of the `allowed` words. */
export function oneOf<T extends string>(name: string, value: T, allowed: readonly T[]): T {
  if (!allowed.includes(value))
    throw new IpcError(
      'EINVAL',
      `${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, ${gotValue(value)}`,
    );
  return value;
}

/** An event id and payload as `sendEvent` and `broadcast` take them. */
export function checkEvent(event: number, payload: Uint8Array): void {
  if (!isUint16(event)) throw new IpcError('EINVAL', `event id must be an integer in 0–65535, ${gotValue(event)}`);
  if (!(payload instanceof Uint8Array)) {
    throw new IpcError(
      'EINVAL',
      `event payload must be a Uint8Array or Buffer, got ${describeValue(payload)}: encode text with Buffer.from(text)`,
    );
  }
}

/** A service to connect to: an id in 0–65535 or a name of 1–255 UTF-8 bytes. */
export function serviceChoice(service: number | string): number | string {
  if (
    typeof service === 'string' ? service === '' || Buffer.byteLength(service) > SERVICE_NAME_MAX : !isUint16(service)
  ) {
    throw new IpcError(
      'EINVAL',
      `service must be an integer id in 0–65535 or a name of 1–${SERVICE_NAME_MAX} bytes, ${gotValue(service)}`,
    );
  }
  return service;
}
