// Writing a batch ahead of the end of its turn, so a peer on another CPU starts on it while the
// rest is built: what the peer sees, and what stays as it was (order, backpressure, failures).
import { afterEach, describe, expect, it } from 'vitest';
import { Ready, type IpcError } from '@pollux/core';
import { FrameKind, HEADER_SIZE } from '../../src/protocol/frame.js';
import { frame, frames, hello, memoryBed, u32, type MemoryBed, type RawPeer } from './memory-bed.js';

let bed: MemoryBed | undefined;

afterEach(async () => {
  await bed?.teardown();
  bed = undefined;
});

/** A request or response carrying request number `n`: 4 bytes of payload. */
const FRAME_SIZE = HEADER_SIZE + 4;

/** Requests `from` … `from + count - 1`, each carrying its number, as one write's bytes. */
function requestBurst(from: number, count: number): Buffer {
  return Buffer.concat(Array.from({ length: count }, (_, i) => frame(FrameKind.Request, 1, from + i, u32(from + i))));
}

/**
 * A service whose handler notes how many answer bytes the peer could read when each request came,
 * and answers with the request's payload, padded with zeros to `answerSize` bytes.
 */
async function echoBed(
  seen: number[],
  peer: () => RawPeer,
  options: { bufferSize?: number; answerSize?: number } = {},
): Promise<MemoryBed> {
  const { answerSize = 4, ...bedOptions } = options;
  return memoryBed(
    (server) =>
      server.addService({
        id: 1,
        name: 'echo',
        commands: {
          1: (payload) => {
            seen.push(peer().channel.unread);
            const answer = Buffer.alloc(answerSize);
            answer.set(payload);
            return answer;
          },
        },
      }),
    bedOptions,
  );
}

/** A raw client that did its handshake. */
async function welcomed(): Promise<RawPeer> {
  const peer = await bed!.raw();
  peer.write(hello('echo'));
  await peer.read();
  return peer;
}

/** Reads responses until `count` came, letting the server write more as the peer's buffer drains. */
async function responses(peer: RawPeer, count: number): Promise<number[]> {
  const ids: number[] = [];
  let bytes = Buffer.alloc(0);
  while (ids.length < count) {
    const more = await peer.read();
    expect(more.length).toBeGreaterThan(0);
    bytes = Buffer.concat([bytes, more]);
    let whole = 0;
    while (whole + HEADER_SIZE <= bytes.length && whole + HEADER_SIZE + bytes.readUInt32LE(whole) <= bytes.length) {
      whole += HEADER_SIZE + bytes.readUInt32LE(whole);
    }
    for (const response of frames(bytes.subarray(0, whole))) {
      expect(response.kind).toBe(FrameKind.Response);
      expect(response.payload.readUInt32LE(0)).toBe(response.id);
      ids.push(response.id);
    }
    bytes = bytes.subarray(whole);
  }
  return ids;
}

/**
 * Sends requests `burst * 24` … `burst * 24 + 23` in one write, lets the server handle them in one
 * turn, and reads the answers: whether the burst was written ahead (its 13th request saw the first
 * 12 answers readable).
 */
async function burstWroteAhead(peer: RawPeer, seen: number[], burst: number): Promise<boolean> {
  seen.length = 0;
  peer.write(requestBurst(burst * 24, 24));
  bed!.poller.turn();
  expect(await responses(peer, 24)).toEqual(Array.from({ length: 24 }, (_, i) => burst * 24 + i));
  return seen[12] !== 0;
}

/** Answers of `answerSize` bytes, each judged write taking `msPerWrite`: 50 bursts in a row are all written ahead. */
async function expectWritesAheadThroughout(answerSize: number, msPerWrite: number): Promise<void> {
  const seen: number[] = [];
  let peer!: RawPeer;
  bed = await echoBed(seen, () => peer, { answerSize });
  peer = await welcomed();
  let clock = 0;
  bed.poller.now = () => (clock += msPerWrite);
  for (let burst = 0; burst < 50; burst++) expect(await burstWroteAhead(peer, seen, burst)).toBe(true);
}

describe('writing ahead', () => {
  it('lets the client read the first dozen answers of a burst while the server still handles the rest of it', async () => {
    const seen: number[] = [];
    let peer!: RawPeer;
    bed = await echoBed(seen, () => peer);
    peer = await welcomed();
    peer.write(requestBurst(0, 30));
    bed.poller.turn();
    // All 30 handled in one turn; answers 0-11 were readable from request 12 on, 12-23 from 24 on.
    expect(seen).toEqual([
      ...Array<number>(12).fill(0),
      ...Array<number>(12).fill(12 * FRAME_SIZE),
      ...Array<number>(6).fill(24 * FRAME_SIZE),
    ]);
    expect(await responses(peer, 30)).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it('keeps a short burst in one write at the end of the turn', async () => {
    const seen: number[] = [];
    let peer!: RawPeer;
    bed = await echoBed(seen, () => peer);
    peer = await welcomed();
    peer.write(requestBurst(0, 11));
    bed.poller.turn();
    expect(seen).toEqual(Array<number>(11).fill(0));
    expect(peer.channel.unread).toBe(11 * FRAME_SIZE);
  });

  it("lets the server read a client's burst of requests from the twelfth on, before the caller's turn ends", async () => {
    bed = await memoryBed((server) =>
      server.addService({ id: 1, name: 'echo', commands: { 1: (payload) => payload } }),
    );
    const client = await bed.connect('echo');
    const readable = (): number[] =>
      bed!.poller.watchedFds.filter((fd) => (bed!.network.readiness(fd, Ready.Readable) ?? 0) & Ready.Readable);
    const replies = Array.from({ length: 11 }, (_, i) => client.request(1, u32(i)));
    expect(readable()).toEqual([]);
    replies.push(client.request(1, u32(11)));
    expect(readable()).toHaveLength(1);
    await bed.poller.settle();
    expect((await Promise.all(replies)).map((reply) => reply.readUInt32LE(0))).toEqual(
      Array.from({ length: 12 }, (_, i) => i),
    );
  });

  it('keeps a burst of events over a socket in one write: no answer comes back to overlap with', async () => {
    const unread: number[] = [];
    let peer!: RawPeer;
    bed = await memoryBed((server) =>
      server.addService({
        id: 1,
        name: 'echo',
        commands: {
          1: (payload, connection) => {
            for (let i = 0; i < 30; i++) {
              connection.sendEvent(1, u32(i));
              unread.push(peer.channel.unread);
            }
            return payload;
          },
        },
      }),
    );
    peer = await welcomed();
    peer.write(requestBurst(0, 1));
    bed.poller.turn();
    expect(unread).toEqual(Array<number>(30).fill(0));
    expect(peer.channel.unread).toBe(31 * FRAME_SIZE);
  });

  it('stops at a full buffer and sends the rest, in order, as the peer reads', async () => {
    const seen: number[] = [];
    let peer!: RawPeer;
    // Room for the 40 requests, and for 5 answers and part of a sixth: the first write ahead fills it.
    const room = 40 * FRAME_SIZE;
    bed = await echoBed(seen, () => peer, { bufferSize: room, answerSize: 100 });
    peer = await welcomed();
    peer.write(requestBurst(0, 40));
    bed.poller.turn();
    expect(seen.slice(12)).toEqual(Array<number>(28).fill(room));
    expect(await responses(peer, 40)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    // The buffer drained: the next burst is written ahead again.
    seen.length = 0;
    peer.write(requestBurst(40, 13));
    bed.poller.turn();
    expect([seen[0], seen[12]]).toEqual([0, room]);
    expect(await responses(peer, 13)).toEqual(Array.from({ length: 13 }, (_, i) => 40 + i));
  });

  it('leaves a write ahead that finds the peer gone to the end of the turn: every request handled, closed once', async () => {
    const handled: number[] = [];
    const reasons: string[] = [];
    bed = await memoryBed((server) =>
      server.addService({
        id: 1,
        name: 'echo',
        commands: {
          1: (payload) => {
            handled.push(payload.readUInt32LE(0));
            return payload;
          },
        },
        closed: (_connection, reason) => reasons.push((reason as IpcError).code),
      }),
    );
    const peer = await welcomed();
    peer.write(requestBurst(0, 30));
    peer.channel.crash();
    await bed.poller.settle();
    expect(handled).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(reasons).toEqual(['ECONNRESET']);
    expect(bed.server.stats().connections).toBe(0);
  });

  it('pauses while its writes are preempted (a peer on the same CPU), then tries again', async () => {
    const seen: number[] = [];
    let peer!: RawPeer;
    bed = await echoBed(seen, () => peer);
    peer = await welcomed();
    // While set, each write ahead seems to take a millisecond, as when the peer it woke ran before it returned.
    let clock = 0;
    let preempted = false;
    bed.poller.now = () => (preempted ? (clock += 1) : clock);
    let burst = 0;
    for (; burst < 50; burst++) expect(await burstWroteAhead(peer, seen, burst)).toBe(true);
    preempted = true;
    while (burst < 100 && (await burstWroteAhead(peer, seen, burst++)));
    const pausedAt = burst;
    expect(pausedAt).toBeLessThan(70);
    preempted = false;
    while (burst < pausedAt + 400 && !(await burstWroteAhead(peer, seen, burst++)));
    // 256 bursts written whole.
    expect(burst - pausedAt).toBeGreaterThan(200);
    expect(burst - pausedAt).toBeLessThan(300);
  });

  it('keeps writing ahead over a socket while each write takes 11 µs: a system call and a wake-up can', async () => {
    await expectWritesAheadThroughout(4, 0.011);
  });

  it('does not judge a batch of large answers by its time: copying them takes long enough on its own', async () => {
    await expectWritesAheadThroughout(4096, 1);
  });
});
