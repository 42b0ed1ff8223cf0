// Pauses and backpressure in the engine, in memory: who stops reading, and when it reads again.
import { afterEach, describe, expect, it } from 'vitest';
import type { Connection, IpcError } from '@pollux/core';
import { FrameKind } from '../../src/protocol/frame.js';
import { deferred, frame, frames, hello, memoryBed, type MemoryBed, type RawPeer } from './memory-bed.js';

let bed: MemoryBed | undefined;

afterEach(async () => {
  await bed?.teardown();
  bed = undefined;
});

/** Writes as much of `pending` as the channel takes now; returns what is left. */
function writeWhatFits(peer: RawPeer, pending: Buffer): Buffer {
  const written = peer.channel.writev([pending], 1);
  return written > 0 ? pending.subarray(written) : pending;
}

describe('a client that sends but does not read', () => {
  it('is no longer read once its output passes the high-water mark, and is served in full once it reads', async () => {
    const opened: Connection<unknown>[] = [];
    bed = await memoryBed(
      (server) => {
        server.addService({ id: 1, name: 'echo', commands: { 1: (payload) => payload } });
        server.on('connection', (connection) => opened.push(connection));
      },
      { bufferSize: 4096, sendQueueHighWater: 8192 },
    );
    const peer = await bed.raw();
    peer.write(hello('echo'));
    expect(frames(await peer.read()).map((f) => f.kind)).toEqual([FrameKind.Welcome]);
    const connection = opened[0]!;
    const count = 64;
    let pending: Buffer = Buffer.concat(
      Array.from({ length: count }, (_, i) => frame(FrameKind.Request, 1, i + 1, Buffer.alloc(1000, i))),
    );
    // Write without reading until nothing more goes in: the server stopped reading.
    for (let before = -1; pending.length !== before; ) {
      before = pending.length;
      pending = writeWhatFits(peer, pending);
      await bed.poller.settle();
    }
    expect(pending.length).toBeGreaterThan(0);
    expect(connection.stats.readPaused).toBe(true);
    expect(connection.stats.flowControlEpisodes).toBe(1);
    // Bounded: the high-water mark, passed by the one response that crossed it.
    expect(connection.stats.queuedBytes).toBeGreaterThan(8192);
    expect(connection.stats.queuedBytes).toBeLessThanOrEqual(8192 + 1012);
    const answered = connection.stats.responses;
    // Reading lets the server write, and once its queue is down it reads and answers again.
    const received: Buffer[] = [];
    while (received.reduce((sum, chunk) => sum + chunk.length, 0) < count * 1012) {
      received.push(await peer.read());
      pending = writeWhatFits(peer, pending);
    }
    expect(pending.length).toBe(0);
    expect(connection.stats.responses).toBeGreaterThan(answered);
    const responses = frames(Buffer.concat(received));
    expect(responses.map((f) => f.id)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    expect(responses.every((f, i) => f.kind === FrameKind.Response && f.payload.equals(Buffer.alloc(1000, i)))).toBe(
      true,
    );
    expect(connection.stats.readPaused).toBe(false);
  });
});

describe('client flow control', () => {
  it('reports flow control while its output waits, queues what the caller sends meanwhile, and sends it in order once drained', async () => {
    bed = await memoryBed(
      (server) => server.addService({ id: 1, name: 'echo', commands: { 1: (payload) => payload } }),
      {
        bufferSize: 4096,
      },
    );
    const client = await bed.connect('echo', { sendQueueHighWater: 2048 });
    const changes: boolean[] = [];
    client.on('flowControl', (on) => changes.push(on));
    bed.server.pauseRequests();
    // The server's buffer fills, then the client's own queue, until it passes its high-water mark.
    const replies: Promise<Buffer>[] = [];
    while (!client.flowControlled) {
      replies.push(client.request(1, Buffer.alloc(1000, replies.length)));
      await bed.poller.settle();
    }
    expect(changes.at(-1)).toBe(true);
    expect(client.queuedRequests).toBe(0);
    const later = client.request(1, Buffer.from('after the pause'));
    expect(client.queuedRequests).toBe(1);
    bed.server.resumeRequests();
    await bed.poller.settle();
    expect(changes.at(-1)).toBe(false);
    expect(client.flowControlled).toBe(false);
    expect((await Promise.all(replies)).map((reply) => reply[0])).toEqual(replies.map((_, i) => i));
    expect((await later).toString()).toBe('after the pause');
  });

  it("rejects a request made while flow-controlled with EAGAIN under whenFlowControlled: 'reject'", async () => {
    bed = await memoryBed(
      (server) => server.addService({ id: 1, name: 'echo', commands: { 1: (payload) => payload } }),
      {
        bufferSize: 4096,
      },
    );
    const client = await bed.connect('echo', { sendQueueHighWater: 2048, whenFlowControlled: 'reject' });
    bed.server.pauseRequests();
    const replies: Promise<Buffer>[] = [];
    while (!client.flowControlled) {
      replies.push(client.request(1, Buffer.alloc(1000)));
      await bed.poller.settle();
    }
    await expect(client.request(1)).rejects.toMatchObject({
      code: 'EAGAIN',
      message: expect.stringContaining('sendQueueHighWater'),
    });
    bed.server.resumeRequests();
    await bed.poller.settle();
    expect((await Promise.all(replies)).length).toBe(replies.length);
  });
});

describe('pauses by the service', () => {
  it('pauses one connection and leaves the others served; resuming answers what waited', async () => {
    const opened: Connection<unknown>[] = [];
    bed = await memoryBed((server) => {
      server.addService({ id: 1, name: 'echo', commands: { 1: (payload) => payload } });
      server.on('connection', (connection) => opened.push(connection));
    });
    const paused = await bed.connect('echo');
    const other = await bed.connect('echo');
    opened[0]!.pauseRequests();
    let answered = false;
    const waiting = paused.request(1, Buffer.from('later')).then((reply) => {
      answered = true;
      return reply.toString();
    });
    const served = other.request(1, Buffer.from('now'));
    await bed.poller.settle();
    expect((await served).toString()).toBe('now');
    expect(answered).toBe(false);
    expect(opened[0]!.stats.readPaused).toBe(true);
    opened[0]!.resumeRequests();
    await bed.poller.settle();
    expect(await waiting).toBe('later');
  });

  it('pauses the whole server: running handlers still answer, newcomers still complete their handshake', async () => {
    const gate = deferred<Buffer>();
    bed = await memoryBed((server) =>
      server.addService({ id: 1, name: 'echo', commands: { 1: (payload) => payload, 2: () => gate.promise } }),
    );
    const client = await bed.connect('echo');
    const due = client.request(2);
    await bed.poller.settle();
    bed.server.pauseRequests();
    let answered = false;
    const later = client.request(1, Buffer.from('later')).then((reply) => {
      answered = true;
      return reply.toString();
    });
    gate.resolve(Buffer.from('due'));
    const newcomer = await bed.connect('echo');
    const newcomerReply = newcomer.request(1, Buffer.from('newcomer'));
    await bed.poller.settle();
    expect((await due).toString()).toBe('due');
    expect(answered).toBe(false);
    expect(bed.server.stats().readPaused).toBe(true);
    bed.server.resumeRequests();
    await bed.poller.settle();
    expect(await later).toBe('later');
    expect((await newcomerReply).toString()).toBe('newcomer');
  });

  it('notices a client that dies while its connection is paused: closed runs and its slot is freed', async () => {
    const opened: Connection<unknown>[] = [];
    const reasons: string[] = [];
    bed = await memoryBed((server) => {
      server.addService({
        id: 1,
        name: 'echo',
        commands: { 1: (payload) => payload },
        closed: (_connection, reason) => reasons.push((reason as IpcError).code),
      });
      server.on('connection', (connection) => opened.push(connection));
    });
    const peer = await bed.raw();
    peer.write(hello('echo'));
    await peer.read();
    opened[0]!.pauseRequests();
    peer.write(frame(FrameKind.Request, 1, 1, Buffer.from('never read')));
    await bed.poller.settle();
    peer.channel.crash();
    await bed.poller.settle();
    expect(reasons).toEqual(['ECONNRESET']);
    expect(bed.server.stats().connections).toBe(0);
  });
});
