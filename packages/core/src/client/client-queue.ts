// RequestQueue: requests waiting for a connection or for the send queue (client layer).
import type { ClientRequest } from './client-request.js';
import { IpcError } from '../errors.js';
import type { Poller } from '../contracts/poller.js';
import { Deadline } from './deadline.js';
import { isLent } from '../link/lent-memory.js';

/**
 * Requests accepted but not yet handed to a connection, in the order they were made: they wait
 * for a reconnection or for the send queue to drain. Each still honours its own timeout and
 * signal while it waits; one that gives up leaves the queue and was never sent.
 */
export class RequestQueue {
  // A FIFO with a moving head: shift() on a long array is a copy, and waiting lists can be long.
  private waiting: (ClientRequest | undefined)[] = [];
  private head = 0;

  constructor(private readonly poller: Poller) {}

  get length(): number {
    return this.waiting.length - this.head;
  }

  /** The oldest request, left in the queue. */
  get first(): ClientRequest | undefined {
    return this.waiting[this.head];
  }

  /** Queues a request; its promise settles once it has been sent and answered, or gave up. */
  add(request: ClientRequest, payload: Uint8Array, timeout: number | undefined, signal: AbortSignal | undefined): void {
    const command = request.command;
    // A view a handler or listener was lent changes once it returns; this one waits longer.
    request.payload = isLent(payload) ? Buffer.from(payload) : payload;
    if (timeout !== undefined) request.expires = this.poller.now() + timeout;
    if (timeout !== undefined || signal !== undefined) {
      request.signal = signal;
      request.deadline = new Deadline(
        this.poller,
        timeout,
        signal,
        () =>
          this.drop(
            request,
            new IpcError(
              'ETIMEDOUT',
              `request for command ${command} waited ${timeout} ms to be sent and was dropped unsent`,
            ),
          ),
        () =>
          this.drop(
            request,
            new IpcError('ECANCELED', `request for command ${command} was cancelled before it was sent`),
          ),
      );
    }
    this.waiting.push(request);
  }

  /** Takes the oldest request out, no longer watched: the caller sends it or settles it. */
  shift(): ClientRequest | undefined {
    if (this.head === this.waiting.length) return undefined;
    const request = this.waiting[this.head]!;
    this.waiting[this.head++] = undefined;
    if (this.head === this.waiting.length) {
      this.waiting = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.waiting.length) {
      this.waiting.splice(0, this.head);
      this.head = 0;
    }
    request.unwatch();
    return request;
  }

  /** Rejects every waiting request with `error`. */
  rejectAll(error: IpcError): void {
    for (let request = this.shift(); request !== undefined; request = this.shift()) request.rejectUnsent(error);
  }

  private drop(request: ClientRequest, error: IpcError): void {
    const at = this.waiting.indexOf(request, this.head);
    if (at < 0) return;
    this.waiting.splice(at, 1);
    request.unwatch();
    request.rejectUnsent(error);
  }
}
