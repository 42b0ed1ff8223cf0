// ClientRequest: a request the caller awaits, with its timeout and signal (client layer).
import { EMPTY_PAYLOAD } from '../protocol/frame.js';
import type { IpcError } from '../errors.js';
import type { Deadline } from './deadline.js';

/** Fds a request carries: duplicates the engine owns until they are sent, and how to close them if they never are. */
export interface OutgoingFds {
  readonly fds: number[];
  readonly close: (fds: number[]) => void;
}

/**
 * A request the caller awaits: its promise's settle functions and what watches it (a timeout, an
 * abort listener). The same object waits in the client's queue, if it must, and then in a
 * session's pending table, so a request that waited costs no second promise.
 */
export class ClientRequest {
  resolve!: (payload: Buffer) => void;
  reject!: (error: IpcError) => void;
  promise!: Promise<Buffer>;
  /** Its timeout and signal, while watched. */
  deadline: Deadline | undefined = undefined;
  /** The caller's signal: watched again once a queued request is sent. */
  signal: AbortSignal | undefined = undefined;
  /** While queued: the payload to send. */
  payload: Uint8Array = EMPTY_PAYLOAD;
  /** While queued: when its timeout runs out (the poller's clock), or Infinity. */
  expires = Number.POSITIVE_INFINITY;
  /** Once sent: its place among the requests of its connection, from 1, modulo 2^32. */
  sequence = 0;
  /** Until sent: the fds it carries. */
  outgoingFds: OutgoingFds | undefined = undefined;
  /** Whether the caller takes the fds of the response (`requestWithFds`); else they are closed. */
  wantsFds = false;
  /** Where the response goes (`requestInto`): it resolves with a view of the bytes copied there. */
  into: Uint8Array | undefined = undefined;
  /** The fds of the response, once resolved, for a caller that takes them. */
  receivedFds: number[] | undefined = undefined;
  constructor(readonly command: number) {}

  /** Rejects a request that was never sent, closing the fds it was to carry. */
  rejectUnsent(error: IpcError): void {
    const outgoing = this.outgoingFds;
    if (outgoing !== undefined) {
      this.outgoingFds = undefined;
      outgoing.close(outgoing.fds);
    }
    this.reject(error);
  }

  /** Stops watching the timeout and the signal. */
  unwatch(): void {
    if (this.deadline !== undefined) {
      this.deadline.cancel();
      this.deadline = undefined;
    }
  }
}

// One shared executor instead of a closure per request: `new Promise` calls it synchronously.
let capturing: ClientRequest | undefined;
function capture(resolve: (payload: Buffer) => void, reject: (error: IpcError) => void): void {
  capturing!.resolve = resolve;
  capturing!.reject = reject;
}

/** Makes a request for `command` with its promise. */
export function makeRequest(command: number): ClientRequest {
  const request = new ClientRequest(command);
  capturing = request;
  request.promise = new Promise<Buffer>(capture);
  capturing = undefined;
  return request;
}
