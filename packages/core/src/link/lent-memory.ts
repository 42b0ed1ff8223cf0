// Lent memory: what channels lend the engine in place, and how to tell a view of it (link layer).

/**
 * Memory channels lend (see `Channel.lend`): a view of it may change once the callback that got
 * it returns, so whatever keeps a payload past that (a send queue, a client's waiting requests)
 * copies one from it. Shared by every link, since a handler may pass what one connection lent to
 * another connection or to a client of another server.
 */
const lentMemories = new WeakSet<ArrayBufferLike>();

/** Marks `memory` as lent: payloads viewing it are copied where they are kept. */
export function markLent(memory: ArrayBufferLike): void {
  lentMemories.add(memory);
}

/** Whether `payload` is a view of lent memory, to be copied before it is kept. */
export function isLent(payload: Uint8Array): boolean {
  return lentMemories.has(payload.buffer);
}
