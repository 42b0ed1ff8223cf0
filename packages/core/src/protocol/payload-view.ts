// payloadView: a Buffer over received memory, made without Buffer.from's checks (protocol layer).

/**
 * A Buffer as Node makes its own (its internal `FastBuffer`): a Uint8Array subclass whose
 * prototype is Buffer's, so `Buffer.isBuffer`, `instanceof Buffer`, `constructor`, every Buffer
 * method and `util.inspect` see a Buffer. The decoder makes one per payload with offsets it has
 * checked already; `Buffer.from(arrayBuffer, offset, length)` checks them again and cost twice as
 * much per payload (40 against 22 ns here), the largest part of an event's cost on the client.
 */
class PayloadView extends Uint8Array {}
Object.setPrototypeOf(PayloadView.prototype, Buffer.prototype);
Object.defineProperty(PayloadView.prototype, 'constructor', { value: Buffer, writable: true, configurable: true });

/** A Buffer viewing `length` bytes of `memory` from `offset`; the caller has checked both. */
export function payloadView(memory: ArrayBufferLike, offset: number, length: number): Buffer {
  // A SharedArrayBuffer works as well: Uint8Array takes either at run time.
  return new PayloadView(memory as ArrayBuffer, offset, length) as unknown as Buffer;
}
