// MessageWithFds: a handler's answer that carries fds beside its payload (server layer).

/**
 * A response payload with fds to pass along (`SCM_RIGHTS`), made by `connection.withFds`: it
 * holds duplicates pollux made at that moment, which are sent with the answer and then closed.
 */
export class MessageWithFds {
  /** The response payload. */
  readonly payload: Uint8Array;
  /** @internal The duplicates to send; emptied once pollux took them. */
  readonly copies: number[];

  /** @internal Made by `Connection.withFds`. */
  constructor(payload: Uint8Array, copies: number[]) {
    this.payload = payload;
    this.copies = copies;
  }

  /** How many fds the answer carries. */
  get fdCount(): number {
    return this.copies.length;
  }
}
