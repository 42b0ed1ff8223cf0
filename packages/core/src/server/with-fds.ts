// withFds: a handler's answer that carries fds beside its payload (server layer).

/** A response payload with fds to pass along (`SCM_RIGHTS`); made by {@link withFds}. */
export class MessageWithFds {
  /** @internal Made by {@link withFds}. */
  constructor(
    /** The response payload. */
    readonly payload: Uint8Array,
    /** The fds to pass, in order. */
    readonly fds: readonly number[],
  ) {}
}

/**
 * What a command handler returns to answer with fds as well as bytes. pollux sends duplicates of
 * `fds`, made when the handler's answer is taken: the fds stay the handler's, to close whenever it
 * likes once it has returned (or its promise settled). The client receives them with
 * `requestWithFds`; a plain `request` closes them.
 *
 * Fds the connection cannot carry (a transport without fd passing, more than the client takes, an
 * fd that is not open) make the answer a handler failure: the client gets an error, nothing is sent.
 *
 * @param payload - the response payload
 * @param fds - open fds of this process, at most the client's `maxFdsPerMessage` (253 at most)
 */
export function withFds(payload: Uint8Array, fds: readonly number[]): MessageWithFds {
  return new MessageWithFds(payload, fds);
}
