import fc from 'fast-check';
import { inspect, isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { IpcError } from '../src/errors.js';
import { FrameDecoder } from '../src/protocol/frame-decoder.js';
import { CONTROL_PAYLOAD_MAX, FrameKind, HEADER_SIZE } from '../src/protocol/frame.js';
import { SendQueue } from '../src/link/send-queue.js';
import type { Channel } from '../src/contracts/transport.js';

interface Frame {
  kind: number;
  code: number;
  id: number;
  payload: Uint8Array;
}

/** A channel that collects what is written, accepting at most `accept()` bytes per call. */
class SinkChannel implements Channel {
  readonly fd = -1;
  readonly credentials = { pid: 0, uid: 0, gid: 0 };
  readonly written: Buffer[] = [];
  calls = 0;
  constructor(private readonly accept: () => number) {}
  read(): number {
    return -11;
  }
  writev(chunks: readonly Uint8Array[], count: number): number {
    this.calls++;
    let budget = this.accept();
    if (budget === 0) return -11;
    let total = 0;
    for (let i = 0; i < count && budget > 0; i++) {
      const chunk = chunks[i]!;
      const n = Math.min(chunk.length, budget);
      this.written.push(Buffer.from(chunk.subarray(0, n)));
      budget -= n;
      total += n;
    }
    return total;
  }
  close(): void {}
}

const MAX = 64 * 1024;

const frameArb: fc.Arbitrary<Frame> = fc.record({
  kind: fc.constantFrom(FrameKind.Request, FrameKind.Response, FrameKind.Event),
  code: fc.integer({ min: 0, max: 0xffff }),
  id: fc.integer({ min: 0, max: 0xffffffff }),
  payload: fc.oneof(
    { weight: 4, arbitrary: fc.uint8Array({ maxLength: 300 }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: MAX }).map((n) => Buffer.alloc(n, n & 0xff)) },
  ),
});

/** Encodes frames through a SendQueue into one byte string, with random partial writes. */
function encode(frames: readonly Frame[], accept: () => number): Buffer {
  const queue = new SendQueue();
  const sink = new SinkChannel(accept);
  for (const f of frames) queue.push(f.kind, f.code, f.id, f.payload);
  for (let guard = 0; queue.bytes > 0; guard++) {
    expect(queue.flush(sink)).toBe(0);
    if (guard > 1_000_000) throw new Error('send queue made no progress');
  }
  return Buffer.concat(sink.written);
}

/** Feeds `bytes` to `decoder` in reads as large as its chunks, taking every frame and letting go of drained chunks. */
function feed(decoder: FrameDecoder, bytes: Buffer): void {
  for (let at = 0; at < bytes.length; ) {
    decoder.reserve();
    const n = Math.min(decoder.space, bytes.length - at);
    bytes.copy(decoder.buffer, decoder.end, at, at + n);
    decoder.commit(n);
    at += n;
    while (decoder.next());
    decoder.releaseDrained();
  }
}

/**
 * Feeds `bytes` to a decoder in reads of the given sizes; returns the frames, the bytes left over,
 * and per frame the bytes the decoder copied from one place of its own to another since the frame before.
 */
function decodeAll(
  bytes: Buffer,
  readSizes: readonly number[],
  maxMessage = MAX,
): { frames: Frame[]; pending: number; copied: number[] } {
  const decoder = new FrameDecoder(maxMessage);
  const out: Frame[] = [];
  const copied: number[] = [];
  let copiedSince = 0;
  let at = 0;
  let i = 0;
  while (at < bytes.length) {
    const { buffer, end, pending } = decoder;
    decoder.reserve();
    // Unparsed bytes that moved (to a new chunk, or to the start of this one) were copied.
    if (decoder.buffer !== buffer || decoder.end !== end) copiedSince += pending;
    const want = Math.min(
      decoder.space,
      readSizes.length > 0 ? readSizes[i++ % readSizes.length]! : decoder.space,
      bytes.length - at,
    );
    bytes.copy(decoder.buffer, decoder.end, at, at + want);
    decoder.commit(want);
    at += want;
    while (decoder.next()) {
      out.push({ kind: decoder.kind, code: decoder.code, id: decoder.id, payload: decoder.payload });
      copied.push(copiedSince);
      copiedSince = 0;
    }
  }
  return { frames: out, pending: decoder.pending, copied };
}

/** Writes a request header saying `length` payload bytes follow, at `b[at]`. */
function writeFrameHeader(b: Buffer, at: number, length: number): void {
  b.fill(0, at, at + HEADER_SIZE);
  b.writeUInt32LE(length, at);
  b[at + 4] = FrameKind.Request;
}

/**
 * Reads one request of `size` payload bytes into `decoder` in reads as large as its room, and
 * decodes it.
 *
 * @returns how many reads it took
 */
function readRequest(decoder: FrameDecoder, size: number): number {
  const frame = Buffer.alloc(HEADER_SIZE + size);
  writeFrameHeader(frame, 0, size);
  let reads = 0;
  for (let at = 0; at < frame.length; reads++) {
    decoder.reserve();
    const n = Math.min(decoder.space, frame.length - at);
    frame.copy(decoder.buffer, decoder.end, at, at + n);
    decoder.commit(n);
    at += n;
  }
  expect(decoder.next()).toBe(true);
  return reads;
}

/** Asserts that `decoded` holds the payloads of `sent`, in order. */
function expectSamePayloads(decoded: readonly Frame[], sent: readonly Frame[]): void {
  expect(decoded.length).toBe(sent.length);
  decoded.forEach((got, i) => {
    expect(Buffer.compare(got.payload, sent[i]!.payload)).toBe(0);
  });
}

/** Decodes a stream that must consist of whole frames only. */
function decode(bytes: Buffer, readSizes: readonly number[]): Frame[] {
  const { frames, pending } = decodeAll(bytes, readSizes);
  expect(pending).toBe(0);
  return frames;
}

describe('frame codec', () => {
  it('round-trips any frame sequence through partial writes and arbitrary read splits', () => {
    fc.assert(
      fc.property(
        fc.array(frameArb, { maxLength: 40 }),
        fc.array(fc.integer({ min: 0, max: 70_000 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 9000 }), { maxLength: 8 }),
        (frames, writeSizes, readSizes) => {
          let w = 0;
          const bytes = encode(frames, () => writeSizes[w++ % writeSizes.length]! || (w % 3) + 1);
          expect(bytes.length).toBe(frames.reduce((n, f) => n + HEADER_SIZE + f.payload.length, 0));
          const decoded = decode(bytes, readSizes);
          expect(decoded.length).toBe(frames.length);
          decoded.forEach((got, i) => {
            const want = frames[i]!;
            expect(got.kind).toBe(want.kind);
            expect(got.code).toBe(want.code);
            expect(got.id).toBe(want.id);
            expect(Buffer.compare(got.payload, want.payload)).toBe(0);
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('says how many bytes complete the next frame: reads of at most that many end at frame ends and decode every frame', () => {
    fc.assert(
      fc.property(
        fc.array(frameArb, { minLength: 1, maxLength: 30 }),
        fc.array(fc.integer({ min: 100, max: 9000 }), { minLength: 1, maxLength: 8 }),
        (frames, readSizes) => {
          const bytes = encode(frames, () => 1 << 20);
          const decoder = new FrameDecoder(1 << 20);
          const ends = new Set<number>();
          for (let at = 0, sum = 0; at < frames.length; at++)
            ends.add((sum += HEADER_SIZE + frames[at]!.payload.length));
          const decoded: Frame[] = [];
          let at = 0;
          for (let i = 0; at < bytes.length; i++) {
            decoder.reserve();
            const missing = decoder.missing;
            expect(missing).toBeGreaterThan(0);
            const n = Math.min(missing, decoder.space, readSizes[i % readSizes.length]!);
            bytes.copy(decoder.buffer, decoder.end, at, at + n);
            decoder.commit(n);
            at += n;
            // A read of all that was missing ends a frame, or a header whose frame has a payload to come.
            if (n === missing && decoder.pending !== HEADER_SIZE && !ends.has(at))
              expect.fail(`a read of ${n} missing bytes ended at ${at}, no frame's end`);
            while (decoder.next())
              decoded.push({ kind: decoder.kind, code: decoder.code, id: decoder.id, payload: decoder.payload });
            if (decoder.pending === 0 && !ends.has(at)) expect.fail(`nothing pending at ${at}, no frame's end`);
          }
          expectSamePayloads(decoded, frames);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('sets aside for a frame no more than each read may newly take, and still decodes every frame intact', () => {
    const largest = 1 << 20;
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            { weight: 3, arbitrary: fc.integer({ min: 0, max: 2_000 }) },
            { weight: 1, arbitrary: fc.integer({ min: 60_000, max: 300_000 }) },
          ),
          { minLength: 1, maxLength: 20 },
        ),
        fc.array(fc.integer({ min: 512, max: 300_000 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: 256, max: 300_000 }), { minLength: 1, maxLength: 8 }),
        (sizes, limits, readSizes) => {
          const frames = sizes.map((size, id) => ({
            kind: FrameKind.Request,
            code: 1,
            id,
            payload: Buffer.alloc(size, id & 0xff),
          }));
          const bytes = encode(frames, () => largest);
          const decoder = new FrameDecoder(largest);
          const decoded: Frame[] = [];
          for (let i = 0, at = 0; at < bytes.length; i++) {
            const limit = limits[i % limits.length]!;
            const held = decoder.held;
            // As FrameLink does: room already set aside is counted, only what goes beyond meets the limit.
            const room = limit + held - decoder.pending;
            decoder.reserve(room);
            expect(decoder.held).toBeLessThanOrEqual(held + limit);
            const n = Math.min(decoder.space, room, readSizes[i % readSizes.length]!, bytes.length - at);
            bytes.copy(decoder.buffer, decoder.end, at, at + n);
            decoder.commit(n);
            at += n;
            while (decoder.next())
              decoded.push({ kind: decoder.kind, code: decoder.code, id: decoder.id, payload: decoder.payload });
            decoder.releaseDrained();
          }
          expect(decoder.pending).toBe(0);
          expectSamePayloads(decoded, frames);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('sets aside only what the limit allows for a frame whose header came alone, and the rest once it allows more', () => {
    const largest = 1 << 20;
    const decoder = new FrameDecoder(largest);
    decoder.reserve(64 * 1024);
    // The first chunk fills with the header and the start of the frame.
    const first = Buffer.alloc(decoder.space);
    writeFrameHeader(first, 0, largest);
    first.copy(decoder.buffer, decoder.end);
    decoder.commit(first.length);
    // A limit that brings what is held to 64 KiB, asked as FrameLink asks (plus what is held unfilled).
    const limit = 64 * 1024 - decoder.held;
    decoder.reserve(limit + decoder.held - decoder.pending);
    expect(decoder.held).toBe(64 * 1024);
    expect(decoder.buffer.length).toBe(64 * 1024);
    decoder.reserve(largest);
    expect(decoder.held).toBe(HEADER_SIZE + largest);
    expect(decoder.space).toBe(HEADER_SIZE + largest - first.length);
  });

  it('fills the room a frame has before growing it when the limit is short, so no read moves what came', () => {
    const largest = 1 << 20;
    const decoder = new FrameDecoder(largest);
    const start = Buffer.alloc(HEADER_SIZE + 1000);
    writeFrameHeader(start, 0, largest);
    decoder.reserve(64 * 1024);
    decoder.reserve(64 * 1024 - decoder.held);
    start.copy(decoder.buffer, decoder.end);
    decoder.commit(start.length);
    const chunk = decoder.buffer;
    while (decoder.space > 0) {
      decoder.reserve(1 + decoder.held - decoder.pending);
      expect(decoder.buffer).toBe(chunk);
      decoder.commit(Math.min(decoder.space, 4096));
    }
    // Full: it grows by what the limit allows, and only now moves what came.
    decoder.reserve(8192 + decoder.held - decoder.pending);
    expect(decoder.buffer).not.toBe(chunk);
    expect(decoder.held).toBe(chunk.length + 8192);
  });

  /** A decoder that has read one 200,000-byte request, so that it guesses the next is as large. */
  function afterLargeFrame(): FrameDecoder {
    const decoder = new FrameDecoder(1 << 20);
    feed(
      decoder,
      encode([{ kind: FrameKind.Request, code: 1, id: 1, payload: Buffer.alloc(200_000, 1) }], () => 1 << 20),
    );
    return decoder;
  }

  it('grows a guessed chunk to the whole frame right after the read that brought its header, as far as the room granted goes', () => {
    const largest = 1 << 20;
    for (const granted of [largest, 1]) {
      const decoder = afterLargeFrame();
      decoder.reserve();
      const guess = decoder.space;
      const chunk = decoder.held;
      expect(guess).toBeGreaterThan(64 * 1024);
      const start = Buffer.alloc(guess, 5);
      writeFrameHeader(start, 0, largest);
      start.copy(decoder.buffer, decoder.end);
      decoder.commit(guess);
      decoder.fitRoom(granted);
      // Granted the whole frame, it holds room for all of it; granted less, it waits for more.
      expect(decoder.held).toBe(granted === largest ? HEADER_SIZE + largest : chunk);
      expect(decoder.buffer.subarray(decoder.end - guess, decoder.end).equals(start)).toBe(true);
    }
  });

  it('reads into the rest of a drained chunk whose payloads were handed out only as far as the limit allows', () => {
    /** A decoder whose chunk, guessed as large as the last frame, brought a small frame, handed out. */
    const drained = (): FrameDecoder => {
      const decoder = afterLargeFrame();
      decoder.reserve();
      const small = encode(
        [{ kind: FrameKind.Request, code: 1, id: 2, payload: Buffer.alloc(1000, 3) }],
        () => 1 << 20,
      );
      small.copy(decoder.buffer, decoder.end);
      decoder.commit(small.length);
      expect(decoder.next()).toBe(true);
      expect(decoder.held).toBe(0);
      return decoder;
    };
    /** Reserves with `limit`, then reads the first byte of a next frame. */
    const readOne = (decoder: FrameDecoder, limit: number): void => {
      decoder.reserve(limit);
      decoder.buffer[decoder.end] = 0;
      decoder.commit(1);
    };
    const roomy = drained();
    const rest = roomy.space;
    expect(rest).toBeGreaterThan(64 * 1024);
    readOne(roomy, 1 << 20);
    expect(roomy.held).toBe(rest);
    // The rest holds nothing anyone counted: reading into it would hold all of it at once.
    const tight = drained();
    readOne(tight, 64 * 1024);
    expect(tight.held).toBeLessThanOrEqual(64 * 1024);
  });

  it('lets go of a chunk guessed for a frame whose header has not come, keeping what came of it', () => {
    for (const came of [0, 5]) {
      const decoder = afterLargeFrame();
      decoder.reserve();
      expect(decoder.held).toBeGreaterThan(64 * 1024);
      const header = Buffer.alloc(HEADER_SIZE);
      writeFrameHeader(header, 0, 100);
      header.copy(decoder.buffer, decoder.end, 0, came);
      decoder.commit(came);
      decoder.fitRoom(1 << 20);
      expect(decoder.held).toBeLessThanOrEqual(1024 + HEADER_SIZE);
      expect(decoder.pending).toBe(came);
      expect(decoder.buffer.subarray(0, came).equals(header.subarray(0, came))).toBe(true);
    }
  });

  it('lets go of a drained chunk larger than a handshake, so an idle connection keeps no large frame memory', () => {
    const decoder = afterLargeFrame();
    // The chunk guessed for a next frame as large, then a request without payload fills none of it.
    feed(
      decoder,
      encode([{ kind: FrameKind.Request, code: 1, id: 2, payload: Buffer.alloc(0) }], () => 1 << 20),
    );
    expect(decoder.held).toBe(0);
    expect(decoder.hasFrameOrRoom).toBe(false);
  });

  it('hands out payloads that are Buffers to every check a user makes', () => {
    const bytes = encode(
      [{ kind: FrameKind.Event, code: 3, id: 0, payload: Buffer.from('hello pollux') }],
      () => 1 << 20,
    );
    const decoder = new FrameDecoder(MAX);
    decoder.reserve();
    bytes.copy(decoder.buffer, decoder.end);
    decoder.commit(bytes.length);
    expect(decoder.next()).toBe(true);
    const payload = decoder.payload;
    const same = Buffer.from('hello pollux');
    expect(Buffer.isBuffer(payload)).toBe(true);
    expect(Object.getPrototypeOf(payload)).toBe(Buffer.prototype);
    expect(isDeepStrictEqual({ payload }, { payload: same })).toBe(true);
    expect(inspect(payload)).toBe(inspect(same));
    expect(payload.toString('utf8', 6)).toBe('pollux');
    expect(Buffer.isBuffer(payload.subarray(6))).toBe(true);
    expect(JSON.stringify(payload)).toBe(JSON.stringify(same));
  });

  it('keeps handed-out payloads intact while later frames arrive', () => {
    const frames = Array.from({ length: 2000 }, (_, i) => ({
      kind: FrameKind.Request,
      code: i & 0xffff,
      id: i,
      payload: Buffer.alloc(1 + (i % 97), i & 0xff),
    }));
    const decoded = decode(
      encode(frames, () => 1 << 20),
      [333, 4096, 17],
    );
    decoded.forEach((f, i) => {
      expect(Buffer.compare(f.payload, frames[i]!.payload)).toBe(0);
    });
  });

  it('starts with a small chunk and grows it while reads of small frames fill it', () => {
    const decoder = new FrameDecoder(1 << 20);
    decoder.reserve();
    // Big enough for a handshake, the largest control frame, and no more.
    expect(decoder.space).toBe(1024 + HEADER_SIZE);
    const sizes: number[] = [];
    for (let i = 0; i < 12; i++) {
      decoder.reserve();
      sizes.push(decoder.buffer.length);
      // Frames of 1,000 bytes fill the chunk; the last one takes what is left over.
      let left = decoder.space;
      while (left > 0) {
        const size = left < 2000 ? left : 1000;
        writeFrameHeader(decoder.buffer, decoder.end + decoder.space - left, size - HEADER_SIZE);
        left -= size;
      }
      decoder.commit(decoder.space);
      while (decoder.next());
      expect(decoder.pending).toBe(0);
    }
    // Up to 64 KiB: below glibc's mmap threshold, so malloc reuses the memory of collected chunks.
    expect(Math.max(...sizes)).toBe(64 * 1024);
  });

  it('reads each small request of a round trip into a chunk of a handshake size, after bulk too', () => {
    const decoder = new FrameDecoder(1 << 20);
    // One read per request, handed out and drained, as a server answering one client at a time.
    // Reads as small as a handshake's once grew the chunk to 16 KiB.
    const roundTrips = (size: number, count: number): number[] => {
      const chunks: number[] = [];
      for (let i = 0; i < count; i++) {
        decoder.reserve();
        chunks.push(decoder.buffer.length);
        readRequest(decoder, size);
        decoder.releaseDrained();
      }
      return chunks;
    };
    // A chunk per request is what a round trip costs: a large one would cost as many bytes per request.
    expect(Math.max(...roundTrips(8, 50))).toBeLessThanOrEqual(1024 + HEADER_SIZE);
    // After bulk the chunk comes down within about a hundred requests, not at once: see the next test.
    roundTrips(60 * 1024, 10);
    expect(Math.max(...roundTrips(8, 150).slice(-20))).toBeLessThanOrEqual(1024 + HEADER_SIZE);
  });

  it('reads a frame of a size that comes back among smaller ones in one read', () => {
    const decoder = new FrameDecoder(1 << 20);
    // Small acknowledgements with a 3 KiB answer every few of them, each frame read on its own.
    const readsOfLarger: number[] = [];
    for (let cycle = 0; cycle < 20; cycle++) {
      for (let small = 0; small < 1 + (cycle % 4); small++) {
        readRequest(decoder, 8);
        decoder.releaseDrained();
      }
      readsOfLarger.push(readRequest(decoder, 3000));
      decoder.releaseDrained();
    }
    // The first one cannot be foreseen.
    expect(readsOfLarger.slice(1)).toEqual(readsOfLarger.slice(1).map(() => 1));
  });

  it('reads large frames of a repeating size up to 256 KiB into place, copying none of their bytes in user space', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 16 * 1024, max: 256 * 1024 - HEADER_SIZE }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 3, max: 20 }),
        (sizes, repeats) => {
          // Bulk traffic repeats its sizes: each size comes `repeats` times in a row.
          const frames = sizes.flatMap((size, at) =>
            Array.from({ length: repeats }, (_, i) => ({
              kind: FrameKind.Response,
              code: at,
              id: i,
              payload: Buffer.alloc(size, (at * 31 + i) & 0xff),
            })),
          );
          const {
            frames: decoded,
            pending,
            copied,
          } = decodeAll(
            encode(frames, () => 1 << 20),
            [],
            1 << 20,
          );
          expect(pending).toBe(0);
          decoded.forEach((got, i) => {
            expect(Buffer.compare(got.payload, frames[i]!.payload)).toBe(0);
          });
          // Where the size changes, one frame of the new size may start in a chunk sized for the
          // ones before and be moved (a part smaller than it); the others are read into place,
          // nothing copied but a header a read left behind.
          sizes.forEach((_, run) => {
            const moved = copied.slice(run * repeats, (run + 1) * repeats).filter((bytes) => bytes > HEADER_SIZE);
            expect(moved.length).toBeLessThanOrEqual(1);
          });
        },
      ),
      { numRuns: 100 },
    );
  });

  it('keeps every handed-out payload intact while later frames of any size arrive in reads of any size', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            { weight: 4, arbitrary: fc.integer({ min: 0, max: 20_000 }) },
            { weight: 1, arbitrary: fc.integer({ min: 20_000, max: 300_000 }) },
          ),
          { minLength: 1, maxLength: 40 },
        ),
        fc.array(fc.integer({ min: 1, max: 300_000 }), { maxLength: 8 }),
        (sizes, readSizes) => {
          const frames = sizes.map((size, i) => ({
            kind: FrameKind.Event,
            code: 0,
            id: i,
            payload: Buffer.alloc(size, i & 0xff),
          }));
          // Every payload is kept until all frames are decoded, then compared.
          const { frames: decoded, pending } = decodeAll(
            encode(frames, () => 1 << 20),
            readSizes,
            1 << 20,
          );
          expect(pending).toBe(0);
          decoded.forEach((got, i) => {
            expect(Buffer.compare(got.payload, frames[i]!.payload)).toBe(0);
          });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('keeps the payloads of decoders reading side by side intact: large frames share memory between connections but never a byte', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(2), fc.integer({ min: 0, max: 300_000 })), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 100_000 }),
        (arrivals, readSize) => {
          // Three connections; each arrival is a frame of one of them, read in reads of readSize.
          const decoders = [0, 1, 2].map(() => new FrameDecoder(1 << 20));
          const kept: { payload: Buffer; want: Buffer }[] = [];
          arrivals.forEach(([connection, size], i) => {
            // A fill of its own per frame (at most 40 of them): a byte of another frame shows.
            const want = Buffer.alloc(size, i + 1);
            const bytes = encode([{ kind: FrameKind.Response, code: 0, id: i, payload: want }], () => 1 << 20);
            const decoder = decoders[connection]!;
            for (let at = 0; at < bytes.length; ) {
              decoder.reserve();
              const n = Math.min(decoder.space, readSize, bytes.length - at);
              decoder.buffer.set(bytes.subarray(at, at + n), decoder.end);
              decoder.commit(n);
              at += n;
              while (decoder.next()) kept.push({ payload: decoder.payload, want });
              decoder.releaseDrained();
            }
          });
          expect(kept.length).toBe(arrivals.length);
          for (const { payload, want } of kept) expect(payload.equals(want)).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('lets go of a drained chunk whose payloads were handed out, and of no other', () => {
    const decoder = new FrameDecoder(1 << 20);
    decoder.reserve();
    const frame = Buffer.alloc(HEADER_SIZE + 3);
    frame.writeUInt32LE(3, 0);
    frame[4] = FrameKind.Request;
    frame.copy(decoder.buffer, decoder.end);
    decoder.commit(frame.length - 1);
    expect(decoder.next()).toBe(false);
    decoder.releaseDrained();
    expect(decoder.pending).toBe(frame.length - 1);
    decoder.reserve();
    frame.copy(decoder.buffer, decoder.end, frame.length - 1);
    decoder.commit(1);
    expect(decoder.next()).toBe(true);
    const payload = decoder.payload;
    decoder.releaseDrained();
    expect(decoder.buffer.length).toBe(0);
    expect(payload.length).toBe(3);
    decoder.reserve();
    expect(decoder.space).toBeGreaterThan(0);
  });

  it('keeps no read chunk alive on an idle connection', async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (gc === undefined) throw new Error('run with --expose-gc (see vitest.config.ts)');
    const decoder = new FrameDecoder(1 << 20);
    // What the last request was held in (over Buffer's pool size and under a large frame's, so its
    // own memory), watched without holding it.
    const read = (() => {
      readRequest(decoder, 8192);
      const chunk = decoder.payload.buffer;
      decoder.releaseDrained();
      return new WeakRef(chunk);
    })();
    // WeakRefs hold their target until the job that made them is over.
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    expect(read.deref()).toBeUndefined();
    expect(decoder.pending).toBe(0);
  });

  it('keeps write slabs only among a few spares all queues share, and reuses them', async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (gc === undefined) throw new Error('run with --expose-gc (see vitest.config.ts)');
    const sink = new SinkChannel(() => 1 << 20);
    /** A burst that outgrows the first slab (into a 4 KiB one, over Buffer's pool size: its own memory). */
    const burst = (queue: SendQueue): void => {
      for (let id = 0; id < 3; id++) queue.push(FrameKind.Response, 0, id, Buffer.alloc(1000));
    };
    /** Writes `queue` out, and returns the memory its last chunk was in. */
    const writeOut = (queue: SendQueue): ArrayBufferLike => {
      let slab: ArrayBufferLike | undefined;
      const watching = new SinkChannel(() => 1 << 20);
      watching.writev = (chunks, count) => {
        slab = chunks[count - 1]!.buffer;
        return sink.writev(chunks, count);
      };
      expect(queue.flush(watching)).toBe(0);
      expect(queue.bytes).toBe(0);
      return slab!;
    };
    // Twenty connections busy at once, each with a slab of its own, then all written out.
    const slabs = (() => {
      const queues = Array.from({ length: 20 }, () => new SendQueue());
      for (const queue of queues) burst(queue);
      return queues.map((queue) => new WeakRef(writeOut(queue)));
    })();
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    const kept = slabs.map((ref) => ref.deref()).filter((slab) => slab !== undefined);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThanOrEqual(8);
    // The next burst, on any connection, writes into one of them.
    const next = new SendQueue();
    burst(next);
    expect(kept).toContain(writeOut(next));
  });

  it('batches many small frames into one write', () => {
    const queue = new SendQueue();
    const sink = new SinkChannel(() => 1 << 20);
    for (let i = 0; i < 500; i++) queue.push(FrameKind.Request, 1, i, Buffer.alloc(64));
    queue.flush(sink);
    expect(sink.calls).toBe(1);
    expect(queue.bytes).toBe(0);
  });

  it('rejects lengths over the agreed maximum before buffering the payload', () => {
    const decoder = new FrameDecoder(1000);
    decoder.reserve();
    const header = Buffer.alloc(HEADER_SIZE);
    header.writeUInt32LE(1001, 0);
    header[4] = FrameKind.Request;
    header.copy(decoder.buffer, decoder.end);
    decoder.commit(HEADER_SIZE);
    expect(() => decoder.next()).toThrowError(expect.objectContaining({ code: 'EMSGSIZE' }));
  });

  it('accepts a message saying it carries up to maxFds fds, and refuses more or fds on a control frame', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: FrameKind.Hello, max: FrameKind.Goodbye }),
        fc.nat(255),
        fc.nat(253),
        (kind, fdCount, maxFds) => {
          const decoder = new FrameDecoder(1 << 20);
          decoder.maxFds = maxFds;
          decoder.reserve();
          const header = Buffer.alloc(HEADER_SIZE);
          header[4] = kind;
          header[5] = fdCount;
          header.copy(decoder.buffer, decoder.end);
          decoder.commit(HEADER_SIZE);
          const message = kind === FrameKind.Request || kind === FrameKind.Response || kind === FrameKind.Event;
          if (fdCount === 0 || (message && fdCount <= maxFds)) {
            expect(decoder.next()).toBe(true);
            expect(decoder.fdCount).toBe(fdCount);
          } else {
            expect(() => decoder.next()).toThrowError(expect.objectContaining({ code: 'EPROTO' }));
          }
        },
      ),
    );
  });

  it('limits control frames to a small size whatever the message size', () => {
    const decoder = new FrameDecoder(1 << 20);
    decoder.reserve();
    const header = Buffer.alloc(HEADER_SIZE);
    header.writeUInt32LE(CONTROL_PAYLOAD_MAX + 1, 0);
    header[4] = FrameKind.Hello;
    header.copy(decoder.buffer, decoder.end);
    decoder.commit(HEADER_SIZE);
    expect(() => decoder.next()).toThrowError(expect.objectContaining({ code: 'EMSGSIZE' }));
  });

  it('never throws anything but a protocol IpcError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 5000 }), fc.integer({ min: 1, max: 700 }), (bytes, step) => {
        const decoder = new FrameDecoder(2048);
        try {
          for (let at = 0; at < bytes.length; at += step) {
            decoder.reserve();
            const n = Math.min(step, decoder.space, bytes.length - at);
            decoder.buffer.set(bytes.subarray(at, at + n), decoder.end);
            decoder.commit(n);
            while (decoder.next()) expect(decoder.payload.length).toBeLessThanOrEqual(2048);
          }
        } catch (error) {
          expect(error).toBeInstanceOf(IpcError);
          expect(['EPROTO', 'EMSGSIZE']).toContain((error as IpcError).code);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('decodes mutated valid streams without crashing', () => {
    fc.assert(
      fc.property(
        fc.array(frameArb, { minLength: 1, maxLength: 10 }),
        fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 8 }),
        (frames, mutations) => {
          const bytes = encode(frames, () => 1 << 20);
          for (const m of mutations) bytes[m.at % bytes.length] = m.value;
          try {
            decodeAll(bytes, [1000]);
          } catch (error) {
            expect(error).toBeInstanceOf(IpcError);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
