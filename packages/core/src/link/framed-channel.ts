// FramedChannel: a connection's framed byte stream over a Channel, driven by a Poller (link layer).
import { EAGAIN, ECONNRESET, EPIPE, IpcError } from '../errors.js';
import { FrameDecoder } from '../protocol/frame-decoder.js';
import { FrameKind } from '../protocol/frame.js';
import { Ready, type Poller } from '../contracts/poller.js';
import { SendQueue } from './send-queue.js';
import type { Channel } from '../contracts/transport.js';

/** How long a purposeful close waits for queued output to drain before it ends anyway. */
const CLOSE_DRAIN_MS = 2000;
/** Reads spent on what a departed peer left in the kernel: its socket buffer, a few chunks. */
const LAST_WORDS_READS = 16;

/**
 * Why reading from a channel is stopped; reading runs while no reason is set. Each reason is set
 * and cleared by its own owner, so one never lifts another's pause.
 */
export const ReadBlock = {
  /** More output waits than the high-water mark allows: the peer is not reading. */
  Output: 1,
  /** The subclass holds frames back (the client until its caller has the client). */
  Held: 2,
  /** A purposeful close began. */
  Closing: 4,
  /** The first bit free for a subclass's own reasons. */
  Subclass: 8,
} as const;

/** Byte counters shared by both ends of a connection. */
export interface TrafficCounters {
  bytesIn: number;
  bytesOut: number;
}

/**
 * The engine half both ends share: it owns a {@link Channel}'s place in the poller, reads with one
 * system call per readiness callback (fair to other connections, since the poller is
 * level-triggered and calls again), decodes frames, and batches writes so all frames queued during
 * one callback or one turn of the loop leave in one system call. Write interest is held only while
 * the kernel buffer is full.
 */
export abstract class FramedChannel {
  protected readonly channel: Channel;
  protected readonly poller: Poller;
  protected readonly decoder: FrameDecoder;
  protected readonly sendQueue = new SendQueue();
  /** True once the connection is over; nothing is read or written after that. */
  protected ended = false;
  /**
   * True once the peer is known to be gone: frames decoded after that are its last words, read
   * only to learn whether it said goodbye and to hand on answers it wrote before it went.
   */
  protected peerGone = false;
  private interest: number = Ready.Readable;
  /** {@link ReadBlock} bits; reading runs while zero. */
  private readBlocks = 0;
  /** Set once closeGracefully started: the reason the channel will end with. */
  private closing: IpcError | undefined;
  private closeDeadline: ReturnType<typeof setTimeout> | undefined;
  private readonly outputHighWater: number;
  private inDispatch = false;
  private flushScheduled = false;
  private readonly dispatchFn = (_fd: number, ready: number): void => this.dispatch(ready);
  private readonly drainJob = (): void => this.drainBuffered();
  private readonly flushJob = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  /**
   * @param outputHighWater - stop reading while more than this many bytes wait to be written, so a
   * peer that sends but never reads cannot grow our memory (Infinity: never stop).
   */
  constructor(channel: Channel, poller: Poller, maxMessage: number, outputHighWater: number) {
    this.channel = channel;
    this.poller = poller;
    this.decoder = new FrameDecoder(maxMessage);
    this.outputHighWater = outputHighWater;
  }

  /** The counters that byte totals are added to. */
  protected abstract readonly traffic: TrafficCounters;

  /** Handles one decoded frame; the payload is in `this.decoder`. */
  protected abstract onFrame(kind: number, code: number, id: number, payload: Buffer): void;

  /** Called once when the channel ends; `error` says why. The channel is already closed. */
  protected abstract onEnd(error: IpcError): void;

  /**
   * Called after each write to the kernel that left the channel open, with the bytes still
   * queued: a subclass tracks its own flow-control state here.
   */
  protected onFlushed(_queuedBytes: number): void {}

  /**
   * Asked before each complete frame is handed to onFrame, and before each read: false stops
   * there. A subclass that says no has stopped reading with {@link FramedChannel.blockReading} first.
   */
  protected admitsNext(): boolean {
    return true;
  }

  /** The most bytes the next read may take from the kernel, at least 1: a budget's room. */
  protected readLimit(): number {
    return Number.POSITIVE_INFINITY;
  }

  /** Starts reading. */
  protected startPolling(): void {
    this.poller.add(this.channel.fd, this.interest, this.dispatchFn);
  }

  /** Queues a frame and makes sure it is written soon. */
  protected send(kind: number, code: number, id: number, payload: Uint8Array): void {
    this.sendQueue.push(kind, code, id, payload);
    if (this.sendQueue.bytes > this.outputHighWater && !(this.readBlocks & ReadBlock.Output)) {
      this.blockReading(ReadBlock.Output, true);
      this.onOutputBlocked();
    }
    if (!this.inDispatch && !this.flushScheduled) {
      this.flushScheduled = true;
      this.poller.job(this.flushJob);
    }
  }

  /** Called when output backpressure stops reading: the peer is not keeping up. */
  protected onOutputBlocked(): void {}

  /**
   * Sets or clears one {@link ReadBlock} reason. While any is set nothing is read and no
   * buffered frame reaches {@link FramedChannel.onFrame}: set from inside onFrame, it stops at
   * the next frame. Kernel buffers then fill and the peer's writes block: backpressure.
   */
  protected blockReading(reason: number, on: boolean): void {
    const blocks = on ? this.readBlocks | reason : this.readBlocks & ~reason;
    if (blocks === this.readBlocks || this.ended) return;
    this.readBlocks = blocks;
    this.updateInterest();
    if (blocks === 0) this.poller.job(this.drainJob);
  }

  /** Holds back or releases frames for the subclass's own reason ({@link ReadBlock.Held}). */
  protected holdFrames(hold: boolean): void {
    this.blockReading(ReadBlock.Held, hold);
  }

  /** Whether `reason` currently stops reading. */
  protected isReadBlocked(reason: number): boolean {
    return (this.readBlocks & reason) !== 0;
  }

  /** Ends the channel: leaves the poller, closes the fd, then reports `error` through onEnd. */
  protected end(error: IpcError): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.closeDeadline);
    this.poller.remove(this.channel.fd);
    this.channel.close();
    this.onEnd(error);
  }

  /**
   * Ends the channel on purpose: a goodbye frame (`goodbye`, its payload, once the handshake is
   * done) tells the peer this is no crash. Nothing more is read; what is queued is written first,
   * for at most `CLOSE_DRAIN_MS`, so the peer never sees a frame cut short by a close.
   */
  protected closeGracefully(reason: IpcError, goodbye: Uint8Array | undefined): void {
    if (this.ended || this.closing !== undefined) return;
    this.closing = reason;
    this.readBlocks |= ReadBlock.Closing;
    if (goodbye !== undefined) this.sendQueue.push(FrameKind.Goodbye, 0, 0, goodbye);
    this.flush();
    if (this.ended) return;
    if (this.sendQueue.bytes === 0) {
      this.end(reason);
      return;
    }
    this.updateInterest();
    this.closeDeadline = setTimeout(() => this.end(reason), CLOSE_DRAIN_MS);
    this.closeDeadline.unref?.();
  }

  /** Writes what is queued now; holds write interest while the kernel is full. */
  protected flush(): void {
    if (this.ended) return;
    const queue = this.sendQueue;
    if (queue.bytes === 0) return;
    const before = queue.bytes;
    const status = queue.flush(this.channel);
    this.traffic.bytesOut += before - queue.bytes;
    if (status < 0) {
      this.failed(status, 'write to peer');
      return;
    }
    if (queue.bytes === 0 && this.closing !== undefined) {
      this.end(this.closing);
      return;
    }
    if (this.readBlocks & ReadBlock.Output && queue.bytes <= this.outputHighWater / 2) {
      this.blockReading(ReadBlock.Output, false);
    } else {
      this.updateInterest();
    }
    this.onFlushed(queue.bytes);
  }

  /**
   * The peer is gone (a broken pipe, a reset, a hang-up). Before judging how, read what it wrote
   * first and this side has not looked at yet — paused reading or a close in progress leave it in
   * the kernel: a goodbye there makes the end orderly, and answers there still count.
   */
  protected peerWentAway(): void {
    if (this.ended) return;
    this.peerGone = true;
    this.readLastWords();
    this.end(peerGone());
  }

  /** True from the moment a purposeful close began. */
  protected get isClosing(): boolean {
    return this.closing !== undefined;
  }

  private get reading(): boolean {
    return this.readBlocks === 0;
  }

  private updateInterest(): void {
    const wanted = (this.reading ? Ready.Readable : 0) | (this.sendQueue.bytes > 0 ? Ready.Writable : 0);
    if (wanted !== this.interest) {
      this.interest = wanted;
      this.poller.modify(this.channel.fd, wanted);
    }
  }

  private dispatch(ready: number): void {
    if (this.ended) return;
    this.inDispatch = true;
    try {
      if (ready & Ready.Writable) this.flush();
      if (this.reading) {
        if (ready & (Ready.Readable | Ready.HangUp | Ready.Error)) this.readOnce();
      } else if (ready & (Ready.HangUp | Ready.Error) && this.readBlocks !== ReadBlock.Held) {
        // The peer is gone both ways (or an error is pending) while we do not read: nothing we
        // send can reach it, and the poller reports this every turn until the fd is removed.
        // Frames held back only for a moment (Held) are read first, on the next turn.
        this.peerWentAway();
      }
    } finally {
      this.inDispatch = false;
    }
    this.flush();
  }

  /** Hands buffered frames to onFrame while reading is on; false when reading stopped or ended. */
  private deliverBuffered(): boolean {
    const decoder = this.decoder;
    while (!this.ended && this.reading && decoder.hasFrame() && this.admitsNext() && decoder.next()) {
      this.onFrame(decoder.kind, decoder.code, decoder.id, decoder.payload);
    }
    return !this.ended && this.reading;
  }

  private readOnce(): void {
    const decoder = this.decoder;
    try {
      // Frames held back by a pause come first: reading past them would reorder nothing, but
      // a full chunk would leave no room and a zero-byte read looks like end of file.
      if (!this.deliverBuffered() || !this.admitsNext()) return;
      decoder.reserve();
      const n = this.channel.read(decoder.buffer, decoder.end, Math.min(decoder.space, this.readLimit()));
      if (n > 0) {
        decoder.commit(n);
        this.traffic.bytesIn += n;
        this.deliverBuffered();
        decoder.releaseDrained();
      } else if (n === 0) {
        this.end(
          decoder.pending > 0
            ? new IpcError(
                'EPROTO',
                `peer closed the connection in the middle of a frame (${decoder.pending} bytes of it received)`,
              )
            : peerGone(),
        );
      } else if (n !== EAGAIN) {
        this.failed(n, 'read from peer');
      }
    } catch (error) {
      this.end(IpcError.from(error, 'EPROTO'));
    }
  }

  /** A read or write failed: the peer is gone, or something else broke the channel. */
  private failed(errno: number, what: string): void {
    if (errno === ECONNRESET || errno === EPIPE) this.peerWentAway();
    else this.end(IpcError.fromErrno(errno, what));
  }

  /** Hands on every frame buffered or still in the kernel, whatever stops reading; see {@link FramedChannel.lost}. */
  private readLastWords(): void {
    const decoder = this.decoder;
    try {
      for (let reads = 0; ; reads++) {
        while (!this.ended && decoder.next()) this.onFrame(decoder.kind, decoder.code, decoder.id, decoder.payload);
        if (this.ended || reads === LAST_WORDS_READS) return;
        decoder.reserve();
        const n = this.channel.read(decoder.buffer, decoder.end, decoder.space);
        if (n <= 0) return;
        decoder.commit(n);
        this.traffic.bytesIn += n;
      }
    } catch {
      // A malformed last word changes nothing: the peer is gone and ends as it would have.
    }
  }

  /**
   * Decodes frames already buffered but held back while reading was paused; the poller reports
   * no readiness for bytes that already left the kernel.
   */
  private drainBuffered(): void {
    if (this.ended || !this.reading) return;
    try {
      this.deliverBuffered();
    } catch (error) {
      this.end(IpcError.from(error, 'EPROTO'));
    }
    this.flush();
  }
}

/** A peer that vanished without a goodbye, however the kernel noticed (EOF, reset, broken pipe). */
function peerGone(): IpcError {
  return new IpcError(
    'ECONNRESET',
    'peer went away without saying goodbye: it crashed, was killed or closed its socket',
  );
}
