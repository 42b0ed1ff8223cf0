// ShmChannel: a connection's byte stream through two shared-memory rings, set up and watched over its socket.
import { constants } from 'node:os';
import {
  IpcError,
  Ready,
  readinessFrom,
  interestEvents,
  type Channel,
  type Credentials,
  type ReadyMask,
} from '@pollux/core';
import * as sys from '@pollux/sys';
import { copyIn, copyOut, distance, nextGeneration, Word, type SleepFlag } from './ring.js';
import { createRingMemory, mapPeerMemory, type RingMemory } from './ring-memory.js';

/** Nothing to read or no room: `-EAGAIN`, as the engine expects it. */
const EAGAIN = -constants.errno.EAGAIN;
const EPIPE = -constants.errno.EPIPE;
const ECONNRESET = -constants.errno.ECONNRESET;
const EIO = -constants.errno.EIO;
/** A write to a peer that broke the rules: the engine ends the connection as a protocol error. */
const PROTOCOL_ERROR = -constants.errno.EPROTO;

/**
 * What a client writes before its hello: "I switch to shared memory once you answer". No frame
 * starts with these bytes (read as a frame's length they are 4 GiB and more), so a server on plain
 * sockets ends the connection at its first read instead of waiting for the rest of a frame while
 * the client's requests go into a ring it never reads; and a shared-memory server tells its
 * clients that switch from those that stay on the socket.
 */
export const SHM_OFFER = Uint8Array.of(0x73, 0x68, 0x6d, 0xff);

/** The byte that carries a side's memfd (`SCM_RIGHTS`): after it, that side writes only to its ring. */
export const SWITCH_BYTE = 0x52;
const SWITCH = Uint8Array.of(SWITCH_BYTE);
/** A doorbell: any byte on the socket once the sender's ring is in use. */
const BELL = Uint8Array.of(0);
/**
 * Spins per turn of the poller, in units of `spinMicros`: however fast the peer answers each
 * spin, a connection holds its poller spinning at most this long before the poller runs again,
 * so a peer that answers just in time each time cannot keep us spinning for it.
 */
const SPINS_PER_TURN = 4;

/** How a {@link ShmChannel} behaves: {@link ShmTransport}'s options, checked. */
export interface ShmChannelSettings {
  /** The size of our ring. */
  readonly ringBytes: number;
  /** Whether to lend received bytes in place: `ShmTransport`'s `lendViews`. */
  readonly lendViews: boolean;
  /** How long to poll the peer's ring for an answer before sleeping, in microseconds; 0: never. */
  readonly spinMicros: number;
  /** Lend private copies, detached at release, so a view kept too long reads as empty. */
  readonly checkLentViews: boolean;
}

const SOCKET_BITS = {
  readable: sys.EPOLLIN,
  hangUp: sys.EPOLLRDHUP,
  writable: sys.EPOLLOUT,
  hangUpBoth: sys.EPOLLHUP,
  error: sys.EPOLLERR,
};

/**
 * One connection over shared memory. Each side owns one memfd: its outgoing ring with its write
 * index, and its consumer state for the peer's ring (read index, "I sleep until data" and "I sleep
 * until room" flags). It maps its own read-write and seals it before handing it over; the peer's it
 * maps read-only, so each side writes only memory it owns.
 *
 * The socket the connection was made on stays open. Until a side sends its memfd (with
 * {@link SWITCH_BYTE}), its bytes travel on the socket: the client's hello goes there, so the
 * server's `accept` hook judges a client before any memory is mapped for it. The client writes
 * {@link SHM_OFFER} before its hello and switches once the server answered; the server switches
 * once it received the memfd of a client that made the offer. A client that made none stays on
 * the socket, and so does the server then. After the switch, a
 * byte on the socket is a doorbell, and the socket's end is the peer's death.
 *
 * {@link ShmChannel.fd} is an epoll set of the socket and a private eventfd, one fd per connection
 * for the poller. The eventfd is rung only by this side, to keep the fd ready while data waits
 * that one read left (readiness is level-triggered). A side about to sleep sets its flag in its own
 * memory and looks at the ring once more; the peer rings only when it sees the flag.
 */
export class ShmChannel implements Channel {
  readonly fd: number;
  readonly credentials: Credentials;
  private readonly socket: Channel;
  private readonly isClient: boolean;
  private readonly settings: ShmChannelSettings;
  /** The eventfd in our epoll set that only we ring. */
  private readonly ownBell: number;
  private ownBellRung = false;
  /** Our memory, once made; {@link ShmChannel.sending} says whether the peer has it yet. */
  private own: RingMemory | undefined;
  /** Our memfd, held until the switch byte carrying it is on the socket. */
  private ownFd = -1;
  /** Whether our bytes go into our ring (the switch byte was sent). */
  private sending = false;
  /** Whether the client tried to make its memory and send it. */
  private switchTried = false;
  /**
   * The client: whether {@link SHM_OFFER} is still to go before the first bytes. The server:
   * whether its first read is still to say if the client made the offer.
   */
  private offerPending = true;
  /** The server: whether the client made the offer, so may switch. */
  private clientOffered = false;
  /** The client: whether the server has said a word yet; the server: whether it answered the hello. */
  private answered = false;
  /** The peer's memory, mapped read-only, once its switch byte arrived. */
  private peer: RingMemory | undefined;
  private written = 0;
  private consumed = 0;
  private generation = 0;
  /** The peer's sleep generations we rang for: one bell per sleep. */
  private rangForData = 0;
  private rangForRoom = 0;
  private interest: ReadyMask = 0;
  private socketEvents = 0;
  /** The socket's end of file: once the peer's ring is empty, the stream ends. */
  private peerClosed = false;
  /** An error the socket reported, as -errno. */
  private socketFailure = 0;
  /** How the peer broke the rules of the shared memory, once it did: the connection must end. */
  private fault: IpcError | undefined;
  private readonly scratch = new Uint8Array(256);
  /** Unread bytes when the current lend began: what a release leaves of them. */
  private lentUnread = 0;
  /** The private copy lent instead of the ring, with {@link ShmChannelSettings.checkLentViews}. */
  private lentCopy: ArrayBuffer | undefined;
  /**
   * Whether part of the peer's ring is lent now. A close meanwhile (a handler closing its own
   * connection) leaves the peer's mapping to {@link ShmChannel.release}: unmapping detaches it,
   * which would empty the payload the handler is still reading.
   */
  private lendOut = false;
  /** Milliseconds this channel may still spin before the poller next reports it. */
  private spinLeft = 0;
  private readonly readyFds = new Int32Array(2);
  private readonly readyEvents = new Int32Array(2);
  private open = true;

  /**
   * @param socket - the connected socket channel; the new channel owns it
   * @param isClient - whether this is the side that connected
   * @param settings - ring size, views, checks
   * @throws {@link IpcError} when the epoll set or eventfd cannot be made (`EMFILE`, `ENFILE`, `ENOMEM`);
   * the socket is then left to the caller
   */
  constructor(socket: Channel, isClient: boolean, settings: ShmChannelSettings) {
    this.socket = socket;
    this.credentials = socket.credentials;
    this.isClient = isClient;
    this.settings = settings;
    const epoll = sys.epollCreate();
    if (epoll < 0) throw IpcError.fromErrno(epoll, 'creating the epoll set of a shared-memory channel');
    const bell = sys.eventfdCreate();
    const added = bell < 0 ? bell : sys.epollAdd(epoll, bell, sys.EPOLLIN);
    if (added < 0) {
      if (bell >= 0) sys.close(bell);
      sys.close(epoll);
      throw IpcError.fromErrno(added, 'creating the doorbell of a shared-memory channel');
    }
    const watched = sys.epollAdd(epoll, socket.fd, 0);
    if (watched < 0) {
      sys.close(bell);
      sys.close(epoll);
      throw IpcError.fromErrno(watched, 'watching the socket of a shared-memory channel');
    }
    this.fd = epoll;
    this.ownBell = bell;
  }

  read(buffer: Uint8Array, offset: number, length: number): number {
    if (this.fault !== undefined) throw this.fault;
    if (this.peer === undefined) return this.readSocket(buffer, offset, length);
    return this.readRing(buffer, offset, length);
  }

  /**
   * Lends the unread bytes of the peer's ring up to its end, in place: the peer may rewrite them
   * at any moment, which the engine's decoder allows for (it copies each header before checking it).
   */
  lend(limit: number): Uint8Array | undefined {
    const peer = this.peer;
    if (peer === undefined || this.fault !== undefined || !this.settings.lendViews) return undefined;
    const unread = this.unread();
    if (unread <= 0) return undefined;
    const start = this.consumed & (peer.capacity - 1);
    const length = Math.min(unread, peer.capacity - start, limit);
    this.lentUnread = unread;
    this.lendOut = true;
    const span = peer.data.subarray(start, start + length);
    if (!this.settings.checkLentViews) return span;
    const copy = new Uint8Array(length);
    copy.set(span);
    this.lentCopy = copy.buffer;
    return copy;
  }

  release(bytes: number): void {
    const closedDuringLend = this.lendOut && !this.open;
    this.lendOut = false;
    const copy = this.lentCopy;
    if (copy !== undefined) {
      this.lentCopy = undefined;
      // Transferring detaches: every view of the copy a receiver kept now has length 0.
      structuredClone(copy, { transfer: [copy] });
    }
    if (closedDuringLend) sys.unmap(this.peer!.mapping);
    if (!this.open || this.peer === undefined) return;
    this.consume(bytes, this.lentUnread);
  }

  writev(chunks: readonly Uint8Array[], count: number): number {
    if (this.isClient && this.offerPending) return this.writeOffer(chunks, count);
    if (!this.sending && (this.own === undefined || this.sendSwitch() !== 0)) {
      const sent = this.socket.writev(chunks, count);
      if (sent > 0) this.answered = true;
      return sent;
    }
    const own = this.own!;
    if (this.peer !== undefined && Atomics.load(this.peer.words, Word.Closed) !== 0) return EPIPE;
    const room = this.room();
    if (room < 0) return PROTOCOL_ERROR;
    if (room === 0) {
      // Full: sleep until the peer makes room (the engine waits for Writable, asked for or not).
      this.armWrite();
      return EAGAIN;
    }
    const written = copyIn(own.data, own.capacity, this.written, chunks, count, room);
    this.written = (this.written + written) >>> 0;
    Atomics.store(own.words, Word.Written, this.written | 0);
    if (this.peer !== undefined) this.rangForData = this.ringIfAsleep(Word.WantsData, this.rangForData);
    // A short write is the engine's "full": it waits for Writable without writing again, and
    // without a new interest to arm us, so sleep for room now.
    if (written === room && written < byteLength(chunks, count)) this.armWrite();
    return written;
  }

  /**
   * Polls the peer's ring for up to {@link ShmChannelSettings.spinMicros} with our "wants data"
   * flag cleared, so the peer rings no doorbell for what it writes meanwhile; if nothing came,
   * says again that we sleep (and looks once more).
   */
  awaitReadable(): boolean {
    const spin = Math.min(this.settings.spinMicros / 1000, this.spinLeft);
    const peer = this.peer;
    if (!(spin > 0) || peer === undefined || !this.sending || !this.open || !(this.interest & Ready.Readable)) {
      return false;
    }
    Atomics.store(this.own!.words, Word.WantsData, 0);
    const start = performance.now();
    const until = start + spin;
    let now = start;
    do {
      // A faulty index (-1) or the peer's close is for the read to report.
      if (this.unread() !== 0 || Atomics.load(peer.words, Word.Closed) !== 0) {
        this.spinLeft -= now - start;
        return true;
      }
      now = performance.now();
    } while (now < until);
    this.spinLeft -= now - start;
    this.armRead();
    return false;
  }

  watchFor(interest: ReadyMask): ReadyMask {
    this.interest = interest;
    this.watchSocket();
    if (interest & Ready.Writable && this.sending) this.armWrite();
    if (interest & Ready.Readable && this.peer !== undefined) this.armRead();
    // The epoll set is readable whenever anything in it is ready, a hang-up included.
    return Ready.Readable;
  }

  readiness(reported: ReadyMask): ReadyMask {
    this.spinLeft = (SPINS_PER_TURN * this.settings.spinMicros) / 1000;
    if (this.ownBellRung) {
      this.ownBellRung = false;
      sys.eventfdRead(this.ownBell);
    }
    if (!(reported & (Ready.Readable | Ready.HangUp | Ready.Error))) return 0;
    const interest = this.interest;
    let ready = 0;
    if (this.peer === undefined || !this.sending) {
      // Bytes still travel on the socket one way at least: ask the set what it is ready for.
      const count = sys.epollWait(this.fd, this.readyFds, this.readyEvents, 0);
      for (let i = 0; i < count; i++) {
        if (this.readyFds[i] !== this.socket.fd) continue;
        const socketReady = readinessFrom(this.readyEvents[i]!, interest, SOCKET_BITS);
        if (this.peer === undefined) ready |= socketReady & ~Ready.Writable;
        if (!this.sending) ready |= socketReady & (Ready.Writable | Ready.Error);
      }
    }
    if (this.peer !== undefined) {
      this.drainBells();
      if (this.peerClosed) ready |= Ready.HangUp | (interest & Ready.Readable);
      if (this.socketFailure !== 0) ready |= Ready.Error | interest;
    }
    if (this.peer !== undefined && interest & Ready.Readable) {
      Atomics.store(this.own!.words, Word.WantsData, 0);
      if (this.unread() !== 0) ready |= Ready.Readable;
      else this.armRead();
    }
    if (this.sending && interest & Ready.Writable) {
      Atomics.store(this.own!.words, Word.WantsRoom, 0);
      if (this.room() !== 0) ready |= Ready.Writable;
      else this.armWrite();
    }
    // The next read or write fails with the fault and ends the connection.
    if (this.fault !== undefined) ready |= Ready.Error | interest;
    return ready;
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    if (this.own !== undefined) Atomics.store(this.own.words, Word.Closed, 1);
    sys.close(this.fd);
    sys.close(this.ownBell);
    if (this.ownFd >= 0) sys.close(this.ownFd);
    if (this.own !== undefined) sys.unmap(this.own.mapping);
    if (this.peer !== undefined && !this.lendOut) sys.unmap(this.peer.mapping);
    this.socket.close();
  }

  /** The client's first write: {@link SHM_OFFER}, then the hello, in one write. */
  private writeOffer(chunks: readonly Uint8Array[], count: number): number {
    const withOffer: Uint8Array[] = [SHM_OFFER];
    for (let i = 0; i < count; i++) withOffer.push(chunks[i]!);
    const sent = this.socket.writev(withOffer, withOffer.length);
    if (sent < 0) return sent;
    this.offerPending = false;
    // A fresh socket takes a hello whole: fewer bytes than the offer is no socket we know.
    return sent >= SHM_OFFER.length ? sent - SHM_OFFER.length : EIO;
  }

  /** A read while the peer's bytes still come on the socket, up to and including its switch byte. */
  private readSocket(buffer: Uint8Array, offset: number, length: number): number {
    const fds: number[] = [];
    const n = this.socket.read(buffer, offset, length, fds);
    if (this.isClient) {
      if (n > 0) this.answered = true;
      else if ((n === 0 || n === ECONNRESET) && !this.answered) throw refusedOffer();
    }
    if (n <= 0) return n;
    if (fds.length === 0) {
      if (!this.isClient && this.offerPending) return this.takeOffer(buffer, offset, n);
      // The server answered the hello: the client's requests may go into its ring from now on. A
      // client that cannot make its memory stays on the socket, and so does the server then;
      // one whose switch byte cannot go out learns why from its next read or write.
      if (this.isClient && !this.switchTried) {
        this.switchTried = true;
        try {
          this.startSending();
        } catch {
          // No memory for a ring: the connection goes on over the socket, both ways.
        }
      }
      return n;
    }
    try {
      this.takePeerMemory(fds, buffer[offset + n - 1]!);
    } finally {
      for (const fd of fds) sys.close(fd);
    }
    // Without a ring of ours we could never ring the peer's doorbell: startSending throws then.
    // A switch byte that cannot go out yet goes with the next write; a peer gone shows on the next read.
    if (this.own === undefined) this.startSending();
    this.watchSocket();
    if (this.interest & Ready.Writable && this.sending) this.armWrite();
    // What we wrote before we could see the peer's flags may have found it asleep already.
    this.rangForData = this.ringIfAsleep(Word.WantsData, this.rangForData);
    // The kernel ends a read at the bytes that carry fds: the switch byte is the last one here.
    // With nothing before it, read on from the ring: a reader that ends at EAGAIN here (the last
    // words of a peer that is gone) would miss what the peer wrote there.
    if (n > 1) {
      this.armRead();
      return n - 1;
    }
    return this.readRing(buffer, offset, length);
  }

  /**
   * The server's first read: strips the client's {@link SHM_OFFER} from the `n` bytes read, or
   * notes that the client stays on the socket (it did not offer). An honest client writes the
   * offer and its hello at once on a fresh socket, so the first read holds the offer whole; bytes
   * that begin it only in part go to the engine, whose decoder refuses them as a frame.
   *
   * @returns the bytes left for the engine, or `-EAGAIN` when the offer was all there was
   */
  private takeOffer(buffer: Uint8Array, offset: number, n: number): number {
    this.offerPending = false;
    let i = 0;
    while (i < SHM_OFFER.length && i < n && buffer[offset + i] === SHM_OFFER[i]) i++;
    if (i < SHM_OFFER.length) return n;
    this.clientOffered = true;
    if (n === SHM_OFFER.length) return EAGAIN;
    buffer.copyWithin(offset, offset + SHM_OFFER.length, offset + n);
    return n - SHM_OFFER.length;
  }

  private takePeerMemory(fds: readonly number[], last: number): void {
    if (!this.isClient) {
      if (!this.clientOffered) throw hostile('sent its memory without offering to switch first');
      // Memory mapped for a client its service's accept hook has not judged yet is what a hostile
      // one sending its switch glued to its hello would get.
      if (!this.answered) throw hostile('sent its memory before its hello was answered');
    }
    if (fds.length !== 1 || last !== SWITCH_BYTE) {
      throw hostile(`sent ${fds.length} fds with byte ${last} where one memfd and its switch byte belong`);
    }
    const peer = mapPeerMemory(fds[0]!);
    if (typeof peer === 'string') throw hostile(peer);
    this.peer = peer;
  }

  /**
   * Makes our memory and sends it, so our bytes go into our ring from now on.
   *
   * @returns 0, or the -errno of sending the switch byte (`-EAGAIN`: the next write tries again)
   * @throws {@link IpcError} when the memory cannot be made (`EMFILE`, `ENOMEM`, …)
   */
  private startSending(): number {
    const made = createRingMemory(this.settings.ringBytes);
    if (typeof made === 'number') throw IpcError.fromErrno(made, 'making the shared-memory ring of a connection');
    this.own = made.memory;
    this.ownFd = made.fd;
    return this.sendSwitch();
  }

  /** Sends our memfd with the switch byte; 0 once sent, or -errno (`-EAGAIN`: the socket is full, bytes keep going there). */
  private sendSwitch(): number {
    const sent = this.socket.writev([SWITCH], 1, [this.ownFd]);
    if (sent < 0) return sent;
    sys.close(this.ownFd);
    this.ownFd = -1;
    this.sending = true;
    this.watchSocket();
    if (this.peer !== undefined) this.rangForRoom = this.ringIfAsleep(Word.WantsRoom, this.rangForRoom);
    return 0;
  }

  private readRing(buffer: Uint8Array, offset: number, length: number): number {
    const peer = this.peer!;
    let unread = this.unread();
    if (unread < 0) throw this.fault!;
    if (unread === 0) {
      if (Atomics.load(peer.words, Word.Closed) !== 0) this.peerClosed = true;
      this.drainBells();
      if (this.socketFailure !== 0) return this.socketFailure;
      unread = this.unread();
      if (unread < 0) throw this.fault!;
      if (unread === 0) {
        if (this.peerClosed) return 0;
        this.armRead();
        return EAGAIN;
      }
    }
    const n = Math.min(unread, length);
    copyOut(peer.data, peer.capacity, this.consumed, buffer, offset, n);
    this.consume(n, unread);
    return n;
  }

  /** Moves our read index past `bytes` of the `unread` there were, and wakes who must know. */
  private consume(bytes: number, unread: number): void {
    if (bytes > 0) {
      this.consumed = (this.consumed + bytes) >>> 0;
      Atomics.store(this.own!.words, Word.Consumed, this.consumed | 0);
      this.rangForRoom = this.ringIfAsleep(Word.WantsRoom, this.rangForRoom);
    }
    // Level-triggered: what this left must keep the fd ready, or the peer must ring when it writes.
    if (bytes < unread) this.ringOwnBell();
    else this.armRead();
  }

  /**
   * Bytes waiting in the peer's ring, its write index read once and checked against ours; -1 for
   * an index no writer can reach, which faults the channel. Never throws: it runs in `writev`,
   * `watchFor` and `readiness` too, where a throw would reach the poller.
   */
  private unread(): number {
    const peer = this.peer!;
    const unread = distance(Atomics.load(peer.words, Word.Written), this.consumed, peer.capacity);
    if (unread < 0) this.fault ??= hostile('moved its write index to a place no writer can reach');
    return unread;
  }

  /** Room in our ring, the peer's read index read once and checked against ours; -1 as {@link ShmChannel.unread}. */
  private room(): number {
    const own = this.own!;
    // Until the peer's memory arrives it has read nothing of ours.
    const consumed = this.peer === undefined ? 0 : Atomics.load(this.peer.words, Word.Consumed);
    const used = distance(this.written, consumed, own.capacity);
    if (used < 0) {
      this.fault ??= hostile('moved its read index to a place no reader can reach');
      return -1;
    }
    return own.capacity - used;
  }

  /**
   * Going to sleep until the peer writes: say so, then look once more, since it may have just
   * written.
   */
  private armRead(): void {
    const words = this.own!.words;
    this.generation = nextGeneration(this.generation);
    Atomics.store(words, Word.WantsData, this.generation);
    if (this.unread() !== 0 || this.peerClosed) {
      Atomics.store(words, Word.WantsData, 0);
      this.ringOwnBell();
    }
  }

  /** Going to sleep until the peer makes room: say so, then look once more. */
  private armWrite(): void {
    const words = this.own!.words;
    this.generation = nextGeneration(this.generation);
    Atomics.store(words, Word.WantsRoom, this.generation);
    if (this.room() !== 0) {
      Atomics.store(words, Word.WantsRoom, 0);
      this.ringOwnBell();
    }
  }

  /** Rings the peer's doorbell if it sleeps on `flag` in a sleep we have not rung for yet; the generation rung for. */
  private ringIfAsleep(flag: SleepFlag, rang: number): number {
    // Before our switch byte, a bell on the socket would read as data.
    if (!this.sending) return rang;
    const sleeping = Atomics.load(this.peer!.words, flag);
    if (sleeping === 0 || sleeping === rang) return rang;
    // A full socket already holds bells the peer has not read; a dead peer is noticed by reading.
    this.socket.writev([BELL], 1);
    return sleeping;
  }

  private ringOwnBell(): void {
    if (this.ownBellRung) return;
    this.ownBellRung = true;
    sys.eventfdWrite(this.ownBell);
  }

  /** Reads the doorbells waiting on the socket, learning whether it ended or failed. */
  private drainBells(): void {
    if (this.peerClosed || this.socketFailure !== 0) return;
    const n = this.socket.read(this.scratch, 0, this.scratch.length);
    if (n === 0) this.peerClosed = true;
    else if (n < 0 && n !== EAGAIN) this.socketFailure = n;
  }

  /** Watches the socket for what this stage needs: its bytes while they carry data, doorbells and its end after. */
  private watchSocket(): void {
    let interest = this.interest;
    if (this.sending) interest &= ~Ready.Writable;
    if (this.peer !== undefined) interest |= Ready.Readable;
    const events = interestEvents(interest, SOCKET_BITS);
    if (events === this.socketEvents || !this.open) return;
    this.socketEvents = events;
    const status = sys.epollModify(this.fd, this.socket.fd, events);
    if (status < 0) throw IpcError.fromErrno(status, 'watching the socket of a shared-memory channel');
  }
}

function byteLength(chunks: readonly Uint8Array[], count: number): number {
  let bytes = 0;
  for (let i = 0; i < count; i++) bytes += chunks[i]!.length;
  return bytes;
}

/**
 * A server that ended the connection without a word to the client's offer and hello: one on plain
 * sockets does that, and so does one that died before it read them. A reset, as the latter is: a
 * request written with the hello may have run, and `retry` tries again.
 */
function refusedOffer(): IpcError {
  return new IpcError(
    'ECONNRESET',
    "no answer to the hello came before it; a server on plain sockets closes a shared-memory client's connection that way (make it listen on shm:<address>, or connect without shm:), as does a server that died",
  );
}

/** A peer that broke the rules of the shared memory: the connection ends, counted as a protocol error. */
function hostile(what: string): IpcError {
  return new IpcError('EPROTO', `shared-memory peer ${what}: closing the connection`);
}
