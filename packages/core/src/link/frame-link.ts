// FrameLink: one connection's framed byte stream over a Channel, driven by a Poller (link layer).
import { EAGAIN, ECONNRESET, EPIPE, IpcError } from '../errors.js';
import { FrameDecoder } from '../protocol/frame-decoder.js';
import { FrameKind, MAX_FDS_PER_MESSAGE } from '../protocol/frame.js';
import { Ready, type Poller, type ReadyMask, type Timer } from '../contracts/poller.js';
import { closeAll, NO_FDS, ReceivedFds, type FdCloser } from './received-fds.js';
import { SendQueue } from './send-queue.js';
import { markLent } from './lent-memory.js';
import type { Channel } from '../contracts/transport.js';

/*
 * A link's life. Every way out of `open` and `closing` lands in `ended` exactly once, and only
 * there is the fd taken out of the poller, closed, and the owner told.
 *
 *   open ──close()──▶ closing ──output written, or CLOSE_DRAIN_MS passed──▶ ended
 *     │                  │
 *     └──────────────────┴──destroy(), peer gone, read or write failed, bad frame──▶ ended
 */

/** Where a link is in its life; see the diagram at the top of this file. */
export const LinkState = {
  /** Reading and writing. */
  Open: 0,
  /** A purposeful close began: nothing more is read; what is queued is being written. */
  Closing: 1,
  /** Over: out of the poller, fd closed, owner told. */
  Ended: 2,
} as const;
export type LinkState = (typeof LinkState)[keyof typeof LinkState];

/**
 * The most fds that may wait to be written on one link: past it, reading stops as for bytes past
 * the high-water mark, and a server's `sendEvent` refuses, so a peer that does not read cannot
 * make this process hold fds without bound.
 */
export const QUEUED_FDS_HIGH_WATER = 1024;

/** How long a purposeful close waits for queued output to drain before it ends anyway. */
const CLOSE_DRAIN_MS = 2000;
/** Reads spent on what a departed peer left in the kernel: its socket buffer, a few chunks. */
const LAST_WORDS_READS = 16;
/**
 * The most reads of answers the channel waited for ({@link Channel.awaitReadable}) one after the
 * other before the link goes back to the poller. A peer that always answers in time would
 * otherwise keep this side in one chain of write, wait, read and handle (a client's next request
 * sent from a promise continuation, which never returns to the loop), starving timers and other fds.
 */
const MAX_AWAITED_READS = 32;
/**
 * How a link writes a batch before its turn ends, so a peer on another CPU starts on it while the
 * rest is built rather than the two sides taking turns with whole batches; and how it judges, by
 * the time such a write took, that the peer shares its CPU, where writing ahead buys no overlap.
 */
interface WriteAhead {
  /** Frames waiting in the batch when it is written ahead. */
  readonly frames: number;
  /**
   * A judged write ahead that took longer than this (ms) most likely woke a peer that shares this
   * CPU and ran before the write returned: about what handling `frames` frames takes it.
   */
  readonly preemptedMs: number;
  /**
   * What such a write adds to {@link FrameLink.aheadScore}; a quick one takes 1 away, so the score
   * climbs only while more than one write in `preemptedWeight + 1` is preempted.
   */
  readonly preemptedWeight: number;
}

/**
 * Requests and answers over a channel whose every write is a system call (a socket): a frame costs
 * about as much to handle as a write's fixed cost, so a dozen keep the extra writes cheap beside the
 * work they let the peer start on. Events over shared memory, too (below).
 */
const EVERY_12_FRAMES: WriteAhead = { frames: 12, preemptedMs: 0.015, preemptedWeight: 3 };

/**
 * Requests and answers over a channel that lends (shared memory), where a write is a copy into a
 * ring and a system call only when it rings the doorbell of a peer that sleeps: every 4 frames
 * keeps the peer fed and awake (bench, pipelined 64 B, 4 alternating runs: 734-919 k/s at 12
 * frames, 964-1,058 at 4; 4 KiB unchanged). Such a write takes under 2 µs unless a peer on this
 * CPU preempts it, handles its 4 frames and returns, 10-30 µs later: on one CPU 14% of a client's
 * writes ahead took over 10 µs, on two 2%, and counting each 8 pauses writing ahead on the first
 * only.
 */
const EVERY_4_FRAMES: WriteAhead = { frames: 4, preemptedMs: 0.01, preemptedWeight: 8 };

/**
 * A write ahead of up to this many bytes, without fds, is judged by how long it took: the kernel
 * copies that much in a microsecond or two, so the time is the system call's and what the wake-up
 * of the peer made it wait.
 */
const JUDGED_BYTES = 16 * 1024;
/**
 * Evidence that the peer shares this CPU, in {@link FrameLink.aheadScore}, that pauses writing
 * ahead ({@link WriteAhead.preemptedWeight}).
 */
const PREEMPTED_SCORE = 32;
/**
 * Batches a link writes whole, without writing ahead, once it judged that its peer shares its CPU,
 * before it tries again: there writing ahead buys no overlap, only more switches between the two
 * sides.
 */
const AHEAD_PAUSE = 256;
/** {@link FrameLink.aheadState} bits: bytes went out ahead of the turn's flush; the channel took less than all. */
const AHEAD_WROTE = 1;
const AHEAD_BLOCKED = 2;

/** Why reading is stopped; reading runs while none is set. Each has one owner, so one never lifts another. */
const Stop = {
  /** More output waits than the high-water mark allows: the peer is not reading. */
  Output: 1,
  /** The owner paused reading (its limits, its gate, its drain). */
  Paused: 2,
  /** The owner holds frames back for a moment (the client until its caller has the client). */
  Held: 4,
  /** A purposeful close began. */
  Closing: 8,
} as const;

/** Fds that came with one read: they belong to the frame that starts in the bytes it returned. */
interface FdArrival {
  /** Stream offsets of the read's first byte and one past its last. */
  readonly start: number;
  readonly end: number;
  readonly fds: number[];
}

/** Byte counters a link adds its traffic to. */
export interface TrafficCounters {
  bytesIn: number;
  bytesOut: number;
}

/** What a {@link FrameLink} reports to the session that owns it. */
export interface LinkOwner {
  /**
   * A frame arrived; the payload is a view that stays valid for as long as it is kept, unless
   * {@link FrameLink.payloadLent}: then it is a view of memory the channel lent, valid only until
   * this returns (copy what must outlive it). Its `fds` are the owner's to close (`closeUntaken`)
   * once it is done with them, unless this throws. An error thrown here ends the link with it (a
   * protocol error).
   */
  frame(kind: number, code: number, id: number, payload: Buffer, fds: ReceivedFds): void;
  /**
   * Asked before each frame is handed over and before each read: false stops there. An owner
   * that says no has paused the link first.
   */
  admitsNext(): boolean;
  /**
   * The most bytes the link may newly hold for input before its next read, at least 1: a budget's
   * room. Room already set aside for the frame being read ({@link FrameLink.inputBytes}) comes on top.
   */
  readLimit(): number;
  /** A read, or room set aside for the frame being read, changed {@link FrameLink.inputBytes}. */
  inputChanged(): void;
  /** A write to the kernel left the link open with `queuedBytes` still waiting. */
  flushed(queuedBytes: number): void;
  /**
   * Whether the peer is likely to write soon after what was just written, so a channel that can
   * wait for it cheaply ({@link Channel.awaitReadable}) should: a client with requests pending, a
   * server that just answered (a client's next request tends to follow its answer). An event
   * nobody answers is no reason to wait.
   */
  expectsPeer(): boolean;
  /** Output passed the high-water mark and reading stopped: the peer is not keeping up. */
  outputBlocked(): void;
  /** The link ended (out of the poller, fd closed); `error` says why. Called once. */
  ended(error: IpcError): void;
}

/**
 * The engine half both ends share: it owns a {@link Channel}'s place in the poller, reads with one
 * system call per readiness callback (fair to other connections, since the poller is
 * level-triggered and calls again; a channel that lends in place takes at most two lends and the
 * frames they cut short), decodes frames, and batches writes: frames queued during one callback
 * or one turn of the loop leave in one system call, a few frames at a time when the batch is longer
 * (see {@link WriteAhead}). Write interest is held only while the kernel buffer is full.
 */
export class FrameLink {
  private readonly channel: Channel;
  private readonly poller: Poller;
  private readonly owner: LinkOwner;
  private readonly traffic: TrafficCounters;
  private readonly decoder: FrameDecoder;
  private readonly sendQueue = new SendQueue();
  private linkState: LinkState = LinkState.Open;
  /**
   * True once the peer is known to be gone: frames decoded after that are its last words, read
   * only to learn whether it said goodbye and to hand on answers it wrote before it went.
   */
  private gone = false;
  private interest: ReadyMask = Ready.Readable;
  /** {@link Stop} bits; reading runs while zero. */
  private stops = 0;
  /** Set once close() began: the reason the link will end with. */
  private closeReason: IpcError | undefined;
  private closeDeadline: Timer | undefined;
  private readonly outputHighWater: number;
  /**
   * Fds read and not yet handed over with their frame, oldest first; undefined when this side
   * takes none, so the channel closes any that come.
   */
  private fdArrivals: FdArrival[] | undefined;
  /** Where each read's fds land before they are filed in {@link FrameLink.fdArrivals}; made with it. */
  private fdsRead: number[] | undefined;
  /** Bytes read from the channel so far: the stream offset of the next byte. */
  private streamOffset = 0;
  /** The most fds a message to the peer may carry, once the handshake said. */
  private peerFds = 0;
  /** {@link FrameLink.closeFd}, made on first use: most links never receive an fd. */
  private fdCloser: FdCloser | undefined;
  private inDispatch = false;
  /** Whether frames of a lend are being handed over: the channel has not moved past them yet. */
  private lending = false;
  /**
   * What writing ahead did since the turn's last flush ({@link FrameLink.writeAhead}): 0, or
   * {@link AHEAD_WROTE} and {@link AHEAD_BLOCKED} bits, or the negative errno a write ahead met.
   * That flush reports it to the owner, and fails the link with the errno.
   */
  private aheadState = 0;
  /**
   * Evidence that the peer shares this CPU ({@link PREEMPTED_SCORE}), from 0 up; below 0, the
   * batches still to write whole before trying again ({@link AHEAD_PAUSE}).
   */
  private aheadScore = 0;
  /** How this link writes requests and answers ahead, by what a write costs on its channel. */
  private readonly aheadCalls: WriteAhead;
  /**
   * How this link writes events ahead; never when undefined. An event wants no answer, so nothing
   * overlaps, and over a socket writing it ahead only splits the peer's reads: 15% fewer events per
   * second to one client, so never there. Over shared memory the peer reads without a system call
   * and gains from starting early (30-40% more events), but from batches of a dozen: every 4 events
   * gave 15% fewer than every 12 (bench, events 64 B to one client).
   */
  private readonly aheadEvents: WriteAhead | undefined;
  /**
   * The channel lent memory: it is read from in place, and copied from only to complete a frame a
   * lend held part of (cut by the end of a ring, or not all written yet). A read that went on past
   * that frame's end would leave the next frame pending too, and every later read would be a copy.
   */
  private lends = false;
  private flushScheduled = false;
  /** Reads of awaited answers since the poller last called: bounded by {@link MAX_AWAITED_READS}. */
  private awaitedReads = 0;
  private readonly dispatchFn = (_fd: number, ready: ReadyMask): void => this.dispatch(ready);
  /** {@link FrameLink.drainBuffered} as a job, made on first use: an idle link never needs it. */
  private drainJob: (() => void) | undefined;
  private readonly flushJob = (): void => {
    this.flushScheduled = false;
    this.flushAndAwait();
  };

  /**
   * @param maxMessage - the largest payload accepted until {@link FrameLink.maxMessage} changes it
   * @param outputHighWater - stop reading while more than this many bytes wait to be written, so a
   * peer that sends but never reads cannot grow our memory (Infinity: never stop)
   */
  constructor(
    channel: Channel,
    poller: Poller,
    owner: LinkOwner,
    traffic: TrafficCounters,
    maxMessage: number,
    outputHighWater: number,
  ) {
    this.channel = channel;
    this.poller = poller;
    this.owner = owner;
    this.traffic = traffic;
    this.decoder = new FrameDecoder(maxMessage);
    this.outputHighWater = outputHighWater;
    const lends = channel.lend !== undefined;
    this.aheadCalls = lends ? EVERY_4_FRAMES : EVERY_12_FRAMES;
    this.aheadEvents = lends ? EVERY_12_FRAMES : undefined;
  }

  get state(): LinkState {
    return this.linkState;
  }

  /** The peer is gone: what is still delivered are its last words, nobody reads what we send. */
  get peerGone(): boolean {
    return this.gone;
  }

  /** Bytes waiting to be written. */
  get queuedBytes(): number {
    return this.sendQueue.bytes;
  }

  /**
   * Whether the payload of the frame being handed over is a view of memory the channel lent
   * ({@link Channel.lend}): valid only until the owner's `frame` returns.
   */
  get payloadLent(): boolean {
    return this.decoder.lent;
  }

  /**
   * Bytes of read memory held for input not yet handed over as frames: received, or set aside
   * for what is to come (a header alone has room set aside for its frame, up to the owner's
   * read limit).
   */
  get inputBytes(): number {
    return this.decoder.held;
  }

  /**
   * Whether {@link FrameLink.inputBytes} already hold a whole frame or room for more of one:
   * handing that frame over, or reading into that room, holds no more memory.
   */
  get inputInHand(): boolean {
    return this.decoder.hasFrameOrRoom;
  }

  /** Whether reading runs now: open, and nothing stops it. */
  get reading(): boolean {
    return this.stops === 0 && this.linkState !== LinkState.Ended;
  }

  /** Changes the largest payload accepted, once the handshake agreed one. */
  set maxMessage(size: number) {
    this.decoder.maxMessage = size;
  }

  /** Fds waiting to be written. */
  get queuedFds(): number {
    return this.sendQueue.fds;
  }

  /**
   * Takes fds from the peer from now on, up to `maxFds` per message (see {@link fdLimit}): called
   * once the handshake is done, so a peer nobody admitted makes this side hold no fd. Until then,
   * and with 0, fds that come are closed as they arrive.
   */
  acceptFds(maxFds: number): void {
    this.decoder.maxFds = maxFds;
    this.fdArrivals = maxFds > 0 ? [] : undefined;
    this.fdsRead = maxFds > 0 ? [] : undefined;
  }

  /** The most fds a message to the peer may carry, once the handshake said; 0 until then. */
  get peerMaxFds(): number {
    return this.peerFds;
  }

  set peerMaxFds(count: number) {
    this.peerFds = count;
  }

  /**
   * Duplicates the fds a message is to carry, after checking the link can send that many: the
   * duplicates are the engine's, so the caller may close its own at once. Hand them to
   * {@link FrameLink.send}, or to {@link FrameLink.closeFds} if the message is dropped.
   *
   * @throws {@link IpcError} `ENOTSUP` when the transport cannot pass fds, `EINVAL` when `fds` is
   * not an array of fd numbers or holds more than the peer takes, `EBADF` when one is not open,
   * `EMFILE` when this process is out of fds; nothing was duplicated then.
   */
  duplicateFds(fds: readonly number[]): number[] {
    const channel = this.channel;
    if (fdLimit(channel, MAX_FDS_PER_MESSAGE) === 0) {
      throw new IpcError(
        'ENOTSUP',
        'this connection cannot pass fds: its transport does not carry them (use the socket transport)',
      );
    }
    if (!Array.isArray(fds) || fds.length > MAX_FDS_PER_MESSAGE) {
      throw new IpcError('EINVAL', `fds must be an array of at most ${MAX_FDS_PER_MESSAGE} fd numbers`);
    }
    if (fds.length > this.peerFds) {
      throw new IpcError(
        'EINVAL',
        `message carries ${fds.length} fds, more than the ${this.peerFds} the peer takes per message (its maxFdsPerMessage)`,
      );
    }
    const copies: number[] = [];
    for (const fd of fds) {
      const copy = Number.isInteger(fd) && fd >= 0 ? channel.duplicateFd!(fd) : -1;
      if (copy < 0) {
        closeAll(copies, this.closeFd);
        if (copy === -1) throw new IpcError('EINVAL', `fds must be fd numbers, got ${String(fd)}`);
        throw IpcError.fromErrno(copy, `pass fd ${fd}`);
      }
      copies.push(copy);
    }
    return copies;
  }

  /** Closes fds from {@link FrameLink.duplicateFds} that will not be sent. */
  closeFds(fds: number[]): void {
    closeAll(fds, this.closeFd);
  }

  /** Starts reading: the channel's fd joins the poller. */
  start(): void {
    this.poller.add(this.channel.fd, this.watchFor(this.interest), this.dispatchFn);
  }

  /**
   * Reads at once, as when the poller reports the channel readable: a connection just accepted
   * usually has its peer's first bytes in the kernel already, and this serves them without
   * waiting a turn of the loop. With nothing there it costs one read that says so.
   */
  readNow(): void {
    this.dispatch(Ready.Readable);
  }

  /**
   * Queues a frame and makes sure it is written soon. `fds` (from {@link FrameLink.duplicateFds})
   * become the link's, sent or dropped.
   *
   * @returns false, having dropped the frame and closed its fds, once the link is closing or ended
   */
  send(kind: number, code: number, id: number, payload: Uint8Array, fds?: number[]): boolean {
    if (this.linkState !== LinkState.Open) {
      if (fds !== undefined) this.closeFds(fds);
      return false;
    }
    const queue = this.sendQueue;
    queue.push(kind, code, id, payload, fds);
    // A batch mixing events and answers is written ahead when the frame that reaches a threshold is of its kind.
    const ahead = kind === FrameKind.Event ? this.aheadEvents : this.aheadCalls;
    if (
      queue.frames === ahead?.frames &&
      (this.aheadState === 0 || this.aheadState === AHEAD_WROTE) &&
      !(this.interest & Ready.Writable)
    ) {
      if (this.aheadScore < 0) this.aheadScore++;
      else this.writeAheadJudged(ahead);
    }
    if ((queue.bytes > this.outputHighWater || queue.fds > QUEUED_FDS_HIGH_WATER) && !(this.stops & Stop.Output)) {
      this.stop(Stop.Output, true);
      this.owner.outputBlocked();
    }
    if (!this.inDispatch && !this.flushScheduled) {
      this.flushScheduled = true;
      this.poller.job(this.flushJob);
    }
    return true;
  }

  /**
   * Stops or resumes reading for the owner's reasons. While paused nothing is read and no buffered
   * frame is handed over (set from inside `frame`, it stops at the next one); kernel buffers fill
   * and the peer's writes block: backpressure. A peer that hangs up meanwhile ends the link.
   */
  pause(on: boolean): void {
    this.stop(Stop.Paused, on);
  }

  /**
   * Holds frames back for a moment, or releases them. Unlike {@link FrameLink.pause}, a hang-up
   * while held waits: the held frames are read first, once released.
   */
  hold(on: boolean): void {
    this.stop(Stop.Held, on);
  }

  /**
   * Ends the link on purpose: `goodbye` (a Goodbye frame's payload, if the protocol is far enough
   * along for one) tells the peer this is no crash. Nothing more is read or queued; what is queued
   * is written first, for at most `CLOSE_DRAIN_MS`, so the peer never sees a frame cut short.
   */
  close(reason: IpcError, goodbye: Uint8Array | undefined): void {
    if (this.linkState !== LinkState.Open) return;
    if (goodbye !== undefined) this.sendQueue.push(FrameKind.Goodbye, 0, 0, goodbye);
    this.linkState = LinkState.Closing;
    this.closeReason = reason;
    this.stops |= Stop.Closing;
    this.flush();
    if (this.state === LinkState.Ended) return;
    if (this.sendQueue.bytes === 0) {
      this.destroy(reason);
      return;
    }
    this.updateInterest();
    this.closeDeadline = this.poller.timer(CLOSE_DRAIN_MS, () => this.destroy(reason));
  }

  /** Closes a received fd through the channel. */
  private get closeFd(): FdCloser {
    return (this.fdCloser ??= (fd) => this.channel.closeFd!(fd));
  }

  /** Ends the link now, dropping what is queued: out of the poller, fd closed, owner told. */
  destroy(reason: IpcError): void {
    if (this.linkState === LinkState.Ended) return;
    this.linkState = LinkState.Ended;
    this.closeDeadline?.cancel();
    this.poller.remove(this.channel.fd);
    if (this.fdArrivals !== undefined) {
      for (const arrival of this.fdArrivals) closeAll(arrival.fds, this.closeFd);
      this.fdArrivals.length = 0;
    }
    this.sendQueue.closeUnsentFds(this.channel);
    this.channel.close();
    this.owner.ended(reason);
  }

  /**
   * Writes what is queued now; holds write interest while the kernel is full.
   *
   * @returns whether bytes went out and the link is still open
   */
  private flush(): boolean {
    if (this.linkState === LinkState.Ended) return false;
    const queue = this.sendQueue;
    const ahead = this.aheadState;
    this.aheadState = 0;
    if (ahead < 0) {
      this.failed(ahead, 'write to peer');
      return false;
    }
    if (queue.bytes === 0 && ahead === 0) return false;
    const before = queue.bytes;
    const status = queue.flush(this.channel);
    const written = before - queue.bytes;
    this.traffic.bytesOut += written;
    if (status < 0) {
      this.failed(status, 'write to peer');
      return false;
    }
    if (queue.bytes === 0 && this.closeReason !== undefined) {
      this.destroy(this.closeReason);
      return false;
    }
    if (this.stops & Stop.Output && queue.bytes <= this.outputHighWater / 2 && queue.fds <= QUEUED_FDS_HIGH_WATER / 2) {
      this.stop(Stop.Output, false);
    } else {
      this.updateInterest();
    }
    this.owner.flushed(queue.bytes);
    return (written > 0 || (ahead & AHEAD_WROTE) !== 0) && this.state !== LinkState.Ended;
  }

  /**
   * Writes what is queued in the middle of a turn: inside a handler, a lend, or a caller's burst of
   * requests. It calls nothing outside the link, not even the poller: the flush that ends the turn
   * reports what went out to the owner, sets write interest, and fails the link with the errno
   * this met ({@link FrameLink.aheadState}).
   */
  private writeAhead(): void {
    if (this.linkState === LinkState.Ended || this.aheadState < 0) return;
    const queue = this.sendQueue;
    const before = queue.bytes;
    const status = queue.flush(this.channel);
    this.traffic.bytesOut += before - queue.bytes;
    if (status < 0) this.aheadState = status;
    else this.aheadState |= (queue.bytes < before ? AHEAD_WROTE : 0) | (queue.bytes > 0 ? AHEAD_BLOCKED : 0);
  }

  /**
   * Writes ahead, and judges by the time that took whether the peer shares this CPU: then the next
   * {@link AHEAD_PAUSE} batches are written whole.
   */
  private writeAheadJudged(ahead: WriteAhead): void {
    const queue = this.sendQueue;
    if (queue.bytes > JUDGED_BYTES || queue.fds > 0) {
      this.writeAhead();
      return;
    }
    const start = this.poller.now();
    this.writeAhead();
    if (this.aheadState !== AHEAD_WROTE) return;
    const score = this.aheadScore + (this.poller.now() - start > ahead.preemptedMs ? ahead.preemptedWeight : -1);
    this.aheadScore = score >= PREEMPTED_SCORE ? -AHEAD_PAUSE : Math.max(0, score);
  }

  /**
   * Writes what is queued; when that sent something, lets the channel wait a moment for the
   * answer ({@link Channel.awaitReadable}) and reads and hands over what came at once, answers to
   * it included, up to {@link MAX_AWAITED_READS} times since the poller last called. A loop, not
   * a recursion: each round's answers go out with the next flush.
   */
  private flushAndAwait(): void {
    while (this.flush() && this.mayAwait() && this.channel.awaitReadable!()) {
      this.awaitedReads++;
      this.inDispatch = true;
      try {
        this.readOnce();
      } finally {
        this.inDispatch = false;
      }
    }
  }

  /**
   * Whether the link may wait for an answer now: the channel can, reading runs, no frame is being
   * handed over (a flush job run from inside a handler or a lend reads nothing), and the owner
   * expects one.
   */
  private mayAwait(): boolean {
    return (
      this.channel.awaitReadable !== undefined &&
      // Asked after every write, so what it says is about that write.
      this.owner.expectsPeer() &&
      this.stops === 0 &&
      this.linkState === LinkState.Open &&
      !this.inDispatch &&
      !this.lending &&
      this.awaitedReads < MAX_AWAITED_READS
    );
  }

  private stop(reason: number, on: boolean): void {
    const stops = on ? this.stops | reason : this.stops & ~reason;
    if (stops === this.stops || this.linkState === LinkState.Ended) return;
    this.stops = stops;
    this.updateInterest();
    if (stops === 0) this.poller.job((this.drainJob ??= () => this.drainBuffered()));
  }

  /** What to watch the fd for while the engine wants `interest`: the channel may translate it. */
  private watchFor(interest: ReadyMask): ReadyMask {
    const channel = this.channel;
    return channel.watchFor === undefined ? interest : channel.watchFor(interest);
  }

  private updateInterest(): void {
    const wanted = (this.stops === 0 ? Ready.Readable : 0) | (this.sendQueue.bytes > 0 ? Ready.Writable : 0);
    if (wanted !== this.interest) {
      this.interest = wanted;
      this.poller.modify(this.channel.fd, this.watchFor(wanted));
    }
  }

  private dispatch(reported: ReadyMask): void {
    if (this.linkState === LinkState.Ended) return;
    const channel = this.channel;
    const ready = channel.readiness === undefined ? reported : channel.readiness(reported);
    // The poller called: the loop has turned since the last awaited answer.
    this.awaitedReads = 0;
    this.inDispatch = true;
    try {
      if (ready & Ready.Writable) this.flush();
      if (this.stops === 0) {
        if (ready & (Ready.Readable | Ready.HangUp | Ready.Error)) this.readOnce();
      } else if (ready & (Ready.HangUp | Ready.Error) && this.stops !== Stop.Held) {
        // The peer is gone both ways (or an error is pending) while we do not read: nothing we
        // send can reach it, and the poller reports this every turn until the fd is removed.
        // Frames held back only for a moment (Held) are read first, on the next turn.
        this.peerWentAway();
      }
    } finally {
      this.inDispatch = false;
    }
    this.flushAndAwait();
  }

  /** Hands buffered frames over while reading runs; false when reading stopped or the link ended. */
  private deliverBuffered(): boolean {
    const decoder = this.decoder;
    const owner = this.owner;
    while (this.stops === 0 && this.linkState !== LinkState.Ended && decoder.hasFrame() && owner.admitsNext()) {
      if (this.fdArrivals === undefined) {
        if (!decoder.next()) break;
        owner.frame(decoder.kind, decoder.code, decoder.id, decoder.payload, NO_FDS);
      } else if (!this.nextWithFds()) break;
    }
    return this.stops === 0 && this.linkState !== LinkState.Ended;
  }

  private readOnce(): void {
    const decoder = this.decoder;
    try {
      // More than one round only while the channel lends: a lend, the frame it cut, one more lend.
      for (let lent = 0; ; ) {
        // Frames held back by a pause come first: a full chunk would leave no room, and a
        // zero-byte read looks like end of file.
        if (!this.deliverBuffered() || !this.owner.admitsNext()) return;
        const limit = this.owner.readLimit();
        if (decoder.pending === 0 && this.fdArrivals === undefined && (lent++ === 2 || this.deliverLent(limit))) return;
        // Room set aside for this frame is counted already: only what goes beyond it meets the limit.
        const room = limit + decoder.held - decoder.pending;
        decoder.reserve(room);
        const wanted = Math.min(decoder.space, room, this.lends ? decoder.missing : decoder.space);
        const n = this.readChannel(wanted);
        if (n > 0) {
          decoder.commit(n);
          this.traffic.bytesIn += n;
          decoder.fitRoom(room - n);
          this.deliverBuffered();
          decoder.releaseDrained();
          this.owner.inputChanged();
          // Another round only to go on with a frame a lend cut short, while its bytes keep coming:
          // a short read means the rest is not written yet.
          if (!this.lends || this.fdArrivals !== undefined || n < wanted) return;
        } else {
          if (n === 0) {
            this.destroy(
              decoder.pending > 0
                ? new IpcError(
                    'EPROTO',
                    `peer closed the connection in the middle of a frame (${decoder.pending} bytes of it received)`,
                  )
                : peerGone(),
            );
          } else if (n === EAGAIN) {
            // Nothing came, yet room may have been set aside for the frame: it counts now.
            decoder.fitRoom(room);
            this.owner.inputChanged();
          } else {
            this.failed(n, 'read from peer');
          }
          return;
        }
      }
    } catch (error) {
      this.destroy(IpcError.from(error, 'EPROTO'));
    }
  }

  /**
   * Hands over the whole frames of what the channel lends, payloads as views of its memory, and
   * releases them once handed over: no copy at all. A frame the lend holds only part of (cut by
   * the end of a ring, or not all written yet) is left for {@link FrameLink.readChannel} to copy.
   *
   * @returns false when the caller should read: nothing was lent, or a frame is cut short there
   */
  private deliverLent(limit: number): boolean {
    const channel = this.channel;
    const span = channel.lend === undefined ? undefined : channel.lend(limit);
    if (span === undefined) return false;
    this.lends = true;
    const memory = span.buffer;
    const base = span.byteOffset;
    markLent(memory);
    this.sendQueue.lend(memory);
    const decoder = this.decoder;
    const owner = this.owner;
    let used = 0;
    let cut = false;
    let handedOver = false;
    this.lending = true;
    try {
      while (this.stops === 0 && this.linkState !== LinkState.Ended && !this.gone) {
        const size = decoder.nextLent(span, used, memory, base);
        if (size === 0) {
          // A lend that ends at a frame's end (the ring's, say) leaves nothing to copy.
          cut = used < span.length;
          break;
        }
        if (!owner.admitsNext()) break;
        used += size;
        owner.frame(decoder.kind, decoder.code, decoder.id, decoder.payload, NO_FDS);
      }
      handedOver = true;
    } finally {
      try {
        // Still lending: a write that finds the peer gone leaves its last words for after the release.
        this.writeLent(handedOver);
      } finally {
        this.lending = false;
        channel.release!(used);
        this.streamOffset += used;
        this.traffic.bytesIn += used;
      }
    }
    // The peer went away during the lend: what follows the frames handed over are its last words.
    if (this.gone) this.peerWentAway();
    return !cut || !this.reading;
  }

  /**
   * Before a lend ends: writes the answers that view the lent memory (an echo, say) straight from
   * it, unless the lend ends with an exception, and has the queue copy what the channel did not
   * take. A payload is copied once, into the channel, not first into memory of its own.
   */
  private writeLent(write: boolean): void {
    const queue = this.sendQueue;
    if (write && !this.gone && queue.holdsLent) this.writeAhead();
    queue.keepLent();
  }

  /** One read into the decoder; fds that came with it are filed under the bytes it returned. */
  private readChannel(length: number): number {
    const decoder = this.decoder;
    const fds = this.fdsRead;
    const n = this.channel.read(decoder.buffer, decoder.end, length, fds);
    if (n <= 0) return n;
    const start = this.streamOffset;
    this.streamOffset = start + n;
    if (fds !== undefined && fds.length > 0) {
      const arrivals = this.fdArrivals!;
      arrivals.push({ start, end: start + n, fds: fds.splice(0) });
      // Every complete frame is handed over before the next read, so an honest peer leaves at
      // most the fds of the frame in progress and of the one this read began: any more (fds in
      // the middle of a frame, say) would pile up unclaimed. Filed first, so the end closes them.
      if (arrivals.length > 2 || arrivals[arrivals.length - 1]!.fds.length > decoder.maxFds) {
        throw new IpcError('EPROTO', 'peer sent fds that no frame can claim');
      }
    }
    return n;
  }

  /**
   * Decodes the next frame, pairs it with the fds that came with its first byte, and hands both
   * over: what the peer sent must match what the header says, fd for fd.
   *
   * @returns false when no complete frame is buffered
   * @throws {@link IpcError} `EPROTO` when fds came that no frame claims, or a frame claims fds
   * that did not come with it
   */
  private nextWithFds(): boolean {
    const decoder = this.decoder;
    const frameStart = this.streamOffset - decoder.pending;
    if (!decoder.next()) return false;
    const arrivals = this.fdArrivals!;
    const first = arrivals[0];
    const count = decoder.fdCount;
    // Fds belong to a frame that starts in the bytes of the read they came with: once the frames
    // parsed reach past those bytes, none is left to claim them.
    if (first !== undefined && first.end <= (count === 0 ? this.streamOffset - decoder.pending : frameStart)) {
      throw new IpcError('EPROTO', `peer sent ${first.fds.length} fds with frames that carry none`);
    }
    if (count === 0) {
      this.owner.frame(decoder.kind, decoder.code, decoder.id, decoder.payload, NO_FDS);
      return true;
    }
    if (first === undefined || first.start > frameStart || first.fds.length !== count) {
      throw new IpcError(
        'EPROTO',
        `frame says it carries ${count} fds, but ${first === undefined || first.start > frameStart ? 0 : first.fds.length} came with it`,
      );
    }
    arrivals.shift();
    const fds = new ReceivedFds(first.fds, this.closeFd);
    try {
      this.owner.frame(decoder.kind, decoder.code, decoder.id, decoder.payload, fds);
    } catch (error) {
      fds.closeUntaken();
      throw error;
    }
    return true;
  }

  /** A read or write failed: the peer is gone, or something else broke the channel. */
  private failed(errno: number, what: string): void {
    if (errno === ECONNRESET || errno === EPIPE) this.peerWentAway();
    else this.destroy(IpcError.fromErrno(errno, what));
  }

  /**
   * The peer is gone (a broken pipe, a reset, a hang-up). Before judging how, read what it wrote
   * that this side has not looked at yet — paused reading or a close in progress leave it in the
   * kernel: a goodbye there makes the end orderly, and answers there still count.
   */
  private peerWentAway(): void {
    if (this.linkState === LinkState.Ended) return;
    this.gone = true;
    // Within a lend, what the channel has unread starts with the lend's own frames, the one being
    // handled among them: reading them now would hand them over twice. The lend stops handing
    // over, and once it has released them, reads the rest and ends the link (deliverLent).
    if (this.lending) return;
    this.readLastWords();
    this.destroy(peerGone());
  }

  /** Hands on every frame buffered or still in the kernel, whatever stops reading. */
  private readLastWords(): void {
    const decoder = this.decoder;
    const owner = this.owner;
    try {
      for (let reads = 0; ; reads++) {
        if (this.fdArrivals === undefined) {
          while (this.linkState !== LinkState.Ended && decoder.next()) {
            owner.frame(decoder.kind, decoder.code, decoder.id, decoder.payload, NO_FDS);
          }
        } else {
          while (this.linkState !== LinkState.Ended && this.nextWithFds());
        }
        if (this.linkState === LinkState.Ended || reads === LAST_WORDS_READS) return;
        decoder.reserve();
        const n = this.readChannel(decoder.space);
        if (n <= 0) return;
        decoder.commit(n);
        this.traffic.bytesIn += n;
      }
    } catch {
      // A malformed last word changes nothing: the peer is gone and ends as it would have.
    }
  }

  /**
   * Decodes frames already buffered but held back while reading was stopped; the poller reports
   * no readiness for bytes that already left the kernel.
   */
  private drainBuffered(): void {
    if (!this.reading) return;
    try {
      this.deliverBuffered();
    } catch (error) {
      this.destroy(IpcError.from(error, 'EPROTO'));
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

/**
 * The most fds a message from the peer may carry on `channel` when this side wants at most
 * `wanted`: none where the transport cannot pass fds.
 */
export function fdLimit(channel: Channel, wanted: number): number {
  return channel.duplicateFd === undefined ? 0 : Math.min(wanted, channel.maxFdsPerWrite ?? 0, MAX_FDS_PER_MESSAGE);
}
