// FrameLink over a channel that lends what it received in place (Channel.lend, shared memory's
// rings): answers that view the lent memory, such as an echo, and what happens to them at release;
// how it writes ahead there.
import { describe, expect, it } from 'vitest';
import { IpcError, Ready, type Channel, type ReadyMask } from '@pollux/core';
import { ManualPoller, type ReadinessSource } from '@pollux/core/testing';
import { FrameLink, LinkState, type LinkOwner } from '../../src/link/frame-link.js';
import { EAGAIN, EPIPE } from '../../src/errors.js';
import { FrameKind } from '../../src/protocol/frame.js';
import { frame, frames, u32 } from './memory-bed.js';

const FD = 9;
/** Over the send queue's copy limit: queued by reference, never copied next to its header. */
const SIZE = 4000;

/**
 * A ring the peer wrote requests into: lent in place, and overwritten by the peer as soon as the
 * engine releases it, as a peer reusing its ring would.
 */
class LendingChannel implements Channel {
  readonly fd = FD;
  readonly credentials = { pid: 1, uid: 0, gid: 0 };
  readonly ring: Uint8Array;
  /** What the writes carried, copied as they were taken. */
  readonly written: Buffer[] = [];
  /** Chunks taken straight from the ring, by reference. */
  fromRing = 0;
  /** Writes that took bytes. */
  writes = 0;
  /** While set, the channel takes no bytes (`EAGAIN`). */
  full = false;
  /** Once set, the peer is gone: writes fail with `EPIPE`, reads find what it left, then the end. */
  gone = false;
  /** The most bytes one lend covers: a frame it cuts short is read instead. */
  lendMax = Number.POSITIVE_INFINITY;
  /** Where lends stop, as at a ring's end: a lend that starts before it ends there, one after it goes on. */
  lendEnd = Number.POSITIVE_INFINITY;
  /** Waits for the peer's answer ({@link Channel.awaitReadable}); none ever comes. */
  awaited = 0;
  private unread: number;

  constructor(bytes: Buffer) {
    this.ring = new Uint8Array(new ArrayBuffer(bytes.length));
    this.ring.set(bytes);
    this.unread = bytes.length;
  }

  readonly source: ReadinessSource = {
    readiness: (fd: number, interest: ReadyMask): ReadyMask | undefined => {
      if (fd !== FD) return undefined;
      return interest & ((this.unread > 0 ? Ready.Readable : 0) | (this.full ? 0 : Ready.Writable));
    },
    version: 0,
  };

  lend(limit: number): Uint8Array | undefined {
    if (this.unread === 0) return undefined;
    const start = this.ring.length - this.unread;
    const end = start < this.lendEnd ? this.lendEnd : this.ring.length;
    return this.ring.subarray(start, Math.min(end, start + Math.min(limit, this.lendMax, this.unread)));
  }

  release(bytes: number): void {
    const start = this.ring.length - this.unread;
    this.unread -= bytes;
    // The peer writes its next requests over what was consumed.
    this.ring.fill(0xee, start, start + bytes);
  }

  read(buffer: Uint8Array, offset: number, length: number): number {
    if (this.unread === 0) return this.gone ? 0 : EAGAIN;
    const start = this.ring.length - this.unread;
    const n = Math.min(length, this.unread);
    buffer.set(this.ring.subarray(start, start + n), offset);
    this.release(n);
    return n;
  }

  writev(chunks: readonly Uint8Array[], count: number): number {
    if (this.gone) return EPIPE;
    if (this.full) return EAGAIN;
    let bytes = 0;
    for (let i = 0; i < count; i++) {
      if (chunks[i]!.buffer === this.ring.buffer) this.fromRing++;
      this.written.push(Buffer.from(chunks[i]!));
      bytes += chunks[i]!.length;
    }
    this.writes++;
    return bytes;
  }

  awaitReadable(): boolean {
    this.awaited++;
    return false;
  }

  close(): void {}
}

/** An owner that echoes each request as its response, at once. */
function echoingOwner(link: () => FrameLink): LinkOwner {
  return {
    frame: (_kind, _code, id, payload) => void link().send(FrameKind.Response, 0, id, payload),
    // A server expects the next request after an answer.
    expectsPeer: () => true,
    admitsNext: () => true,
    readLimit: () => Number.POSITIVE_INFINITY,
    inputChanged: () => {},
    flushed: () => undefined,
    outputBlocked: () => undefined,
    ended: () => undefined,
  };
}

function requests(count: number): Buffer[] {
  return Array.from({ length: count }, (_, id) => Buffer.alloc(SIZE, id + 1));
}

/** The ring of a peer that wrote `payloads` as requests 0, 1, … */
function ringOf(payloads: readonly Buffer[]): LendingChannel {
  return new LendingChannel(Buffer.concat(payloads.map((payload, id) => frame(FrameKind.Request, 1, id, payload))));
}

/** A started link over `channel` on a manual poller, its owner made with the link to come. */
function startLink(
  channel: LendingChannel,
  owner: (link: () => FrameLink) => LinkOwner,
): { poller: ManualPoller; link: FrameLink } {
  const poller = new ManualPoller(channel.source);
  const link: FrameLink = new FrameLink(
    channel,
    poller,
    owner(() => link),
    { bytesIn: 0, bytesOut: 0 },
    1 << 20,
    Number.POSITIVE_INFINITY,
  );
  link.start();
  return { poller, link };
}

/** An echoing link over `channel` that notes whether each request came as lent memory or a copy. */
function startSorting(channel: LendingChannel): { poller: ManualPoller; link: FrameLink; received: string[] } {
  const received: string[] = [];
  const started = startLink(channel, (self) => ({
    ...echoingOwner(self),
    frame: (_kind, _code, id, payload) => {
      received.push(payload.buffer === channel.ring.buffer ? 'lent' : 'copied');
      self().send(FrameKind.Response, 0, id, payload);
    },
  }));
  return { ...started, received };
}

function startEchoing(payloads: readonly Buffer[]): { channel: LendingChannel; poller: ManualPoller; link: FrameLink } {
  const channel = ringOf(payloads);
  return { channel, ...startLink(channel, echoingOwner) };
}

describe('answers that view memory a channel lent', () => {
  it('are written straight from it before the lend ends: the payload is copied once, into the channel', () => {
    const payloads = requests(3);
    const { channel, poller, link } = startEchoing(payloads);
    poller.turn();
    expect(frames(Buffer.concat(channel.written)).map((f) => [f.kind, f.id, f.payload])).toEqual(
      payloads.map((payload, id) => [FrameKind.Response, id, payload]),
    );
    expect(channel.fromRing).toBe(payloads.length);
    // Written before the end of the dispatch, they are still answers the peer may follow at once.
    expect(channel.awaited).toBe(1);
    link.destroy(new IpcError('ECONNRESET', 'test over'));
  });

  it('are written four at a time while a long lend goes on, so the peer starts on them, each straight from the ring', () => {
    const payloads = requests(30);
    const { channel, poller, link } = startEchoing(payloads);
    poller.turn();
    // 7 writes ahead of 4 answers, and the last 2 when the turn ends.
    expect(channel.writes).toBe(8);
    expect(frames(Buffer.concat(channel.written)).map((f) => [f.kind, f.id, f.payload])).toEqual(
      payloads.map((payload, id) => [FrameKind.Response, id, payload]),
    );
    expect(channel.fromRing).toBe(payloads.length);
    link.destroy(new IpcError('ECONNRESET', 'test over'));
  });

  it('are copied before the lend ends when the channel is full, and go out intact once it has room', () => {
    const payloads = requests(3);
    const { channel, poller, link } = startEchoing(payloads);
    channel.full = true;
    poller.turn();
    // Released and overwritten by the peer meanwhile; nothing was written, so no answer is awaited.
    expect(channel.written).toEqual([]);
    expect(channel.awaited).toBe(0);
    expect(channel.ring.every((byte) => byte === 0xee)).toBe(true);
    channel.full = false;
    poller.turn();
    expect(frames(Buffer.concat(channel.written)).map((f) => [f.kind, f.id, f.payload])).toEqual(
      payloads.map((payload, id) => [FrameKind.Response, id, payload]),
    );
    expect(channel.fromRing).toBe(0);
    link.destroy(new IpcError('ECONNRESET', 'test over'));
  });

  it('hand each frame over once when their write finds the peer gone, the frames after the lend as its last words', () => {
    const payloads = requests(3);
    const channel = ringOf(payloads);
    // The lend holds the first request and part of the second.
    channel.lendMax = frame(FrameKind.Request, 1, 0, payloads[0]).length + 100;
    channel.gone = true;
    const handled: number[] = [];
    const endings: string[] = [];
    const { poller, link } = startLink(channel, (self) => ({
      ...echoingOwner(self),
      frame: (_kind, _code, id, payload) => {
        handled.push(id);
        self().send(FrameKind.Response, 0, id, payload);
      },
      ended: (reason) => endings.push(reason.code),
    }));
    poller.turn();
    expect(handled).toEqual([0, 1, 2]);
    expect(endings).toEqual(['ECONNRESET']);
    expect(link.state).toBe(LinkState.Ended);
    expect(channel.written).toEqual([]);
  });

  it('are lent again after the frame a lend cut short at the end of its ring, which alone is copied', () => {
    const payloads = requests(6);
    const channel = ringOf(payloads);
    // The ring ends in the middle of the second request.
    channel.lendEnd = frame(FrameKind.Request, 1, 0, payloads[0]).length + 100;
    const { poller, link, received } = startSorting(channel);
    poller.turn();
    expect(received).toEqual(['lent', 'copied', 'lent', 'lent', 'lent', 'lent']);
    expect(frames(Buffer.concat(channel.written)).map((f) => [f.kind, f.id, f.payload])).toEqual(
      payloads.map((payload, id) => [FrameKind.Response, id, payload]),
    );
    link.destroy(new IpcError('ECONNRESET', 'test over'));
  });

  it('take at most two lends and the frames they cut short per turn of the poller, for fairness to other links', () => {
    const payloads = requests(8);
    const channel = ringOf(payloads);
    // Every lend holds one request and part of the next.
    channel.lendMax = frame(FrameKind.Request, 1, 0, payloads[0]).length + 100;
    const { poller, link, received } = startSorting(channel);
    poller.turn();
    expect(received).toEqual(['lent', 'copied', 'lent', 'copied']);
    poller.turn();
    expect(received).toEqual(['lent', 'copied', 'lent', 'copied', 'lent', 'copied', 'lent', 'copied']);
    expect(frames(Buffer.concat(channel.written)).map((f) => f.id)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    link.destroy(new IpcError('ECONNRESET', 'test over'));
  });

  it('are copied when sent on another link: only the lending link writes before it releases', () => {
    const payloads = requests(2);
    const other = new LendingChannel(Buffer.alloc(0));
    const { poller: otherPoller, link: otherLink } = startLink(other, echoingOwner);
    const channel = ringOf(payloads);
    const { poller, link } = startLink(channel, (self) => ({
      ...echoingOwner(self),
      // Forwards each request to the other link as an event instead.
      frame: (_kind, _code, id, payload) => void otherLink.send(FrameKind.Event, 2, id, payload),
    }));
    poller.turn();
    expect(channel.ring.every((byte) => byte === 0xee)).toBe(true);
    otherPoller.turn();
    expect(frames(Buffer.concat(other.written)).map((f) => [f.kind, f.id, f.payload])).toEqual(
      payloads.map((payload, id) => [FrameKind.Event, id, payload]),
    );
    link.destroy(new IpcError('ECONNRESET', 'test over'));
    otherLink.destroy(new IpcError('ECONNRESET', 'test over'));
  });
});

describe('writing ahead over a channel that lends', () => {
  it('writes events a dozen at a time: they want no answer, and bigger batches serve the peer best', () => {
    const channel = ringOf(requests(1));
    const { poller, link } = startLink(channel, (self) => ({
      ...echoingOwner(self),
      frame: () => {
        for (let i = 0; i < 30; i++) self().send(FrameKind.Event, 2, 0, u32(i));
      },
    }));
    poller.turn();
    // Written ahead after the 12th and the 24th, the last 6 when the turn ends.
    expect(channel.writes).toBe(3);
    expect(frames(Buffer.concat(channel.written)).map((f) => f.payload.readUInt32LE(0))).toEqual(
      Array.from({ length: 30 }, (_, i) => i),
    );
    link.destroy(new IpcError('ECONNRESET', 'test over'));
  });

  it('stops while its writes take over 10 µs: a peer on the same CPU ran before each returned', () => {
    /** Writes over one turn echoing 400 small requests, each judged write ahead taking `micros`. */
    const writesTaking = (micros: number): number => {
      const { channel, poller, link } = startEchoing(Array.from({ length: 400 }, (_, id) => u32(id)));
      let clock = 0;
      poller.now = () => (clock += micros / 1000);
      poller.turn();
      expect(frames(Buffer.concat(channel.written)).map((f) => f.payload.readUInt32LE(0))).toEqual(
        Array.from({ length: 400 }, (_, id) => id),
      );
      link.destroy(new IpcError('ECONNRESET', 'test over'));
      return channel.writes;
    };
    expect(writesTaking(9)).toBe(100);
    // Each adds 8 to a score that pauses at 32: 4 writes ahead, then the other 384 answers at once.
    expect(writesTaking(11)).toBe(5);
  });
});
