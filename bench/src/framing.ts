/**
 * The hand-written wire format of the node:net baseline (and of the C reference server): a
 * 4-byte payload length and a 4-byte request id (both little-endian u32), then the payload. This
 * is the least framing a pipelined request/response protocol can get away with, so the baseline
 * carries no protocol overhead that pollux's own frames would not also carry.
 *
 * The id {@link CONTROL_ID} is reserved: from the client it is a push request (payload: see
 * `encodePushRequest`), from the server it is an event.
 */

export const HEADER_SIZE = 8;
export const CONTROL_ID = 0xffffffff;

/** Builds one frame in a single buffer, so the caller can hand it to one `socket.write`. */
export function encodeFrame(id: number, payload: Uint8Array): Buffer {
  // allocUnsafe: every byte is overwritten below; small sizes come from Node's shared pool.
  const frame = Buffer.allocUnsafe(HEADER_SIZE + payload.length);
  frame.writeUInt32LE(payload.length, 0);
  frame.writeUInt32LE(id, 4);
  frame.set(payload, HEADER_SIZE);
  return frame;
}

/**
 * Splits a byte stream into frames. Complete frames are handed out as views into the received
 * chunk (no copy); only a trailing partial frame is kept, and it is copied once when the next
 * chunk arrives. With 64 KiB reads and frames of at most a few KiB that copy is small, which is
 * how a competent hand-written decoder behaves.
 */
export class FrameParser {
  #rest: Buffer | undefined;

  constructor(private readonly onFrame: (id: number, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    const buf = this.#rest === undefined ? chunk : Buffer.concat([this.#rest, chunk]);
    this.#rest = undefined;
    let offset = 0;
    while (buf.length - offset >= HEADER_SIZE) {
      const length = buf.readUInt32LE(offset);
      const end = offset + HEADER_SIZE + length;
      if (end > buf.length) break;
      this.onFrame(buf.readUInt32LE(offset + 4), buf.subarray(offset + HEADER_SIZE, end));
      offset = end;
    }
    if (offset < buf.length) this.#rest = buf.subarray(offset);
  }
}
