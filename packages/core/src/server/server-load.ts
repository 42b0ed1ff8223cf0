// ServerLoad: the server-wide gate on requests (in flight, rate, bytes, pause) (server layer).
import type { Poller, Timer } from '../contracts/poller.js';
import type { TokenBucket } from './rate-limit.js';

/** A session that stopped at the gate, to be woken when the server admits requests again. */
export interface GateWaiter {
  /** The gate let this waiter through: it may read and deliver requests again. */
  passGate(): void;
  /**
   * Whether the gate lets this waiter through while it is shut only for bytes: it holds less than
   * {@link GUARANTEED_BYTES}, or its input is in hand (a whole request read, or room set aside for
   * the one being read), as {@link ServerLoad.admits} says.
   */
  readonly passesBytesGate: boolean;
}

/** Why the server as a whole admits no requests now; the gate is open while none is set. */
const Shut = {
  /** The application called `pauseRequests()`. */
  Paused: 1,
  /** `maxInFlight` handlers run. */
  InFlight: 2,
  /** The server-wide request rate ran out. */
  Throttled: 4,
  /** The sessions together hold `maxBufferedBytes`. */
  Bytes: 8,
} as const;

/**
 * Bytes any one connection may hold whatever the server's total, and which the total does not
 * count: a client that holds nothing is served even while hostile peers sit on the whole budget.
 */
export const GUARANTEED_BYTES = 64 * 1024;

/**
 * The server-wide gate for requests: its in-flight limit, its request rate, its byte budget and the
 * application's pause. Sessions ask it before each request they deliver and before each read; a
 * session turned away waits in a FIFO list and is woken once there is room, so only the
 * connections that hit the gate pause and wake, never all of them. Each limit has hysteresis: the
 * gate shuts at the limit and opens again a quarter below it, so a busy server does not flip it
 * per request.
 */
export class ServerLoad {
  /** Asynchronous handlers running, over all connections. */
  inFlight = 0;
  /**
   * Bytes the sessions hold beyond their {@link GUARANTEED_BYTES}: read and not yet parsed, of
   * running requests, and queued to send.
   */
  bytes = 0;
  private shut = 0;
  private readonly maxInFlight: number;
  private readonly inFlightLowWater: number;
  private readonly maxBytes: number;
  private readonly bytesLowWater: number;
  private readonly bucket: TokenBucket | undefined;
  /** Tokens the bucket must hold again before the gate opens after the rate ran out. */
  private readonly tokensLowWater: number;
  private throttleTimer: Timer | undefined;
  private readonly poller: Poller;
  /** The server is closing: no new rate timer may hold the process up. */
  private stopped = false;
  private readonly waiters = new Set<GateWaiter>();
  /** Waiters woken that have not used their room yet: each will admit a request or give it back. */
  private woken = 0;
  private readonly refilled = (): void => {
    this.throttleTimer = undefined;
    this.open(Shut.Throttled);
  };

  constructor(poller: Poller, maxInFlight: number, maxBytes: number, bucket: TokenBucket | undefined) {
    this.poller = poller;
    this.maxInFlight = maxInFlight;
    this.inFlightLowWater = maxInFlight - Math.ceil(maxInFlight / 4);
    this.maxBytes = maxBytes;
    this.bytesLowWater = (maxBytes * 3) / 4;
    this.bucket = bucket;
    this.tokensLowWater = bucket === undefined ? 0 : Math.max(1, Math.floor(bucket.burst / 2));
  }

  /** Whether any limit or the pause stops requests now. */
  get isShut(): boolean {
    return this.shut !== 0;
  }

  /**
   * Whether `session` may deliver its next request and read. A gate shut only for bytes stops
   * growth, not work the budget has counted: it passes a session that holds less than
   * {@link GUARANTEED_BYTES}, and one whose input is in hand ({@link GateWaiter.passesBytesGate}),
   * so requests whose memory is counted are never stuck behind the budget they fill.
   */
  admits(session: GateWaiter): boolean {
    return this.shut === 0 || (this.shut === Shut.Bytes && session.passesBytesGate);
  }

  /** Queues `waiter` until the gate opens; it has stopped reading. */
  wait(waiter: GateWaiter): void {
    this.waiters.add(waiter);
  }

  /** Forgets a waiter whose session ended. */
  leave(waiter: GateWaiter): void {
    this.waiters.delete(waiter);
  }

  /**
   * A woken waiter is done with the room it was woken for: it admitted a request, or gives the
   * room back (it ended, stopped reading for a reason of its own, or had nothing to deliver).
   * Room is counted afresh from what runs now, so either way the next waiter may get it: a room a
   * synchronous handler used is free again already.
   */
  wakeDone(): void {
    this.woken--;
    this.wake();
  }

  pause(paused: boolean): void {
    if (paused) this.shut |= Shut.Paused;
    else this.open(Shut.Paused);
  }

  /** An asynchronous handler started (+1) or settled (-1). */
  inFlightChanged(delta: number): void {
    const inFlight = (this.inFlight += delta);
    if (inFlight >= this.maxInFlight) this.shut |= Shut.InFlight;
    else if (inFlight <= this.inFlightLowWater && this.shut & Shut.InFlight) return this.open(Shut.InFlight);
    if (delta < 0) this.wake();
  }

  /** A session's held bytes changed by `delta`. */
  bytesChanged(delta: number): void {
    const bytes = (this.bytes += delta);
    if (bytes >= this.maxBytes) {
      if (this.shut & Shut.Bytes) return;
      this.shut |= Shut.Bytes;
      // Waiters queued for their turn while the gate was open, which it still admits, would
      // otherwise wait for the bytes to fall, and some of those bytes are theirs.
      if (this.shut === Shut.Bytes) this.wakeHolders();
    } else if (bytes <= this.bytesLowWater && this.shut & Shut.Bytes) {
      this.open(Shut.Bytes);
    }
  }

  /** Counts a request against the server's rate; out of tokens, shuts until enough are back. */
  takeToken(): void {
    const bucket = this.bucket!;
    if (bucket.take() === 0 || this.throttleTimer !== undefined || this.stopped) return;
    this.shut |= Shut.Throttled;
    this.throttleTimer = this.poller.timer(Math.ceil(bucket.msUntil(this.tokensLowWater)), this.refilled, true);
  }

  /** Stops the rate's timer: the server is closing. */
  stop(): void {
    this.stopped = true;
    this.throttleTimer?.cancel();
    this.throttleTimer = undefined;
  }

  private open(reason: number): void {
    this.shut &= ~reason;
    if (this.shut === Shut.Bytes) this.wakeHolders();
    else this.wake();
  }

  /**
   * The gate is now shut only for bytes: wakes the waiters it admits anyway
   * ({@link GateWaiter.passesBytesGate}). They stopped for another reason, or waited for their
   * turn, and would otherwise wait for bytes that only their own requests, once handed over and
   * answered, can free, or wait while holding nearly nothing, which the gate promises never to make
   * anyone do.
   */
  private wakeHolders(): void {
    for (const waiter of this.waiters) {
      if (!waiter.passesBytesGate) continue;
      this.waiters.delete(waiter);
      this.woken++;
      waiter.passGate();
    }
  }

  /**
   * Wakes, first come first served, as many waiters as there is room for requests now beside
   * those woken already; at least one when none is on its way, so an open gate never strands
   * them (a timer may fire a hair before the tokens are back).
   */
  private wake(): void {
    if (this.shut !== 0 || this.waiters.size === 0) return;
    let room = this.maxInFlight - this.inFlight;
    if (this.bucket !== undefined) room = Math.min(room, this.bucket.available());
    room = Math.max(this.woken === 0 ? 1 : 0, room - this.woken);
    for (const waiter of this.waiters) {
      if (room-- <= 0) return;
      this.waiters.delete(waiter);
      this.woken++;
      waiter.passGate();
    }
  }
}
