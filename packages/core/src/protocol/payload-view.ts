// payloadView: a payload as a Buffer over memory the decoder holds or a channel lends (protocol layer).

/**
 * The class Node makes its Buffers with, public as `Buffer[Symbol.species]` (what `subarray`
 * constructs): its views are plain Buffers, prototype and all. `Buffer.from(memory, offset,
 * length)` ends in the same constructor after argument checks that cost as much again (40
 * against 18 ns here), and it runs once per frame received.
 */
const BufferView = Reflect.get(Buffer, Symbol.species) as new (
  memory: ArrayBufferLike,
  offset: number,
  length: number,
) => Buffer;

/** A Buffer viewing `length` bytes of `memory` at `offset`, which the caller has bound-checked. */
export function payloadView(memory: ArrayBufferLike, offset: number, length: number): Buffer {
  return new BufferView(memory, offset, length);
}
