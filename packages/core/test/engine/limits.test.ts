// The server's limits, in memory: connections, connections per uid, requests in flight, message size.
import { afterEach, describe, expect, it } from 'vitest';
import { IpcError, type HandlerFailure } from '@pollux/core';
import { FrameKind } from '../../src/protocol/frame.js';
import { decodeError, EARLY_REQUEST_MAX } from '../../src/protocol/handshake.js';
import { frame, frames, hello, memoryBed, type MemoryBed } from './memory-bed.js';

let bed: MemoryBed | undefined;

afterEach(async () => {
  await bed?.teardown();
  bed = undefined;
});

/** Echo (command 1), and command 2 that answers when the test releases it. */
function serveEcho(held: (() => void)[]) {
  return (server: MemoryBed['server']): void => {
    server.addService({
      id: 1,
      name: 'echo',
      commands: {
        1: (payload) => payload,
        2: (payload) => new Promise<Uint8Array>((resolve) => held.push(() => resolve(payload))),
      },
    });
  };
}

describe('connection caps', () => {
  it('refuses a connection over maxConnections with EAGAIN, and admits again once one closes', async () => {
    bed = await memoryBed(serveEcho([]), { maxConnections: 2 });
    const first = await bed.connect('echo');
    await bed.connect('echo');
    const refusal = await bed.connect('echo').catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(IpcError);
    expect(refusal).toMatchObject({ code: 'EAGAIN', message: expect.stringContaining('limit of 2 connections') });
    expect(bed.server.stats()).toMatchObject({ refusedOverCapacity: 1, accepted: 2, connections: 2 });
    const closing = first.close();
    await bed.poller.settle();
    await closing;
    expect((await bed.connect('echo')).isOpen).toBe(true);
  });

  it('still refuses with EAGAIN once 64 refusals wait for their hello: the next is refused at once', async () => {
    bed = await memoryBed(serveEcho([]), { maxConnections: 1 });
    // One holds the only slot and 64 more wait to be refused; none says hello.
    for (let i = 0; i < 65; i++) await bed.raw();
    await bed.poller.settle();
    expect(bed.server.stats().connections).toBe(65);
    await expect(bed.connect('echo')).rejects.toMatchObject({
      code: 'EAGAIN',
      message: expect.stringContaining('limit of 1 connections'),
    });
    expect(bed.server.stats().connections).toBe(65);
  });

  it('refuses a uid over maxConnectionsPerUid with EAGAIN, still admits other uids, and gives the slot back on close', async () => {
    bed = await memoryBed(serveEcho([]), { maxConnections: 10, maxConnectionsPerUid: 2 });
    const alice = { uid: 1001, gid: 1001 };
    const first = await bed.connect('echo', {}, alice);
    await bed.connect('echo', {}, alice);
    await expect(bed.connect('echo', {}, alice)).rejects.toMatchObject({
      code: 'EAGAIN',
      message: expect.stringContaining('uid 1001 has reached'),
    });
    const bob = await bed.connect('echo', {}, { uid: 1002, gid: 1002 });
    expect(bob.isOpen).toBe(true);
    // Connections still in their handshake hold a slot too.
    const silent = await bed.raw({ uid: 1002 });
    await bed.poller.settle();
    await expect(bed.connect('echo', {}, { uid: 1002 })).rejects.toMatchObject({ code: 'EAGAIN' });
    silent.channel.close();
    const closing = first.close();
    await bed.poller.settle();
    await closing;
    await bed.connect('echo', {}, alice);
    await bed.connect('echo', {}, { uid: 1002 });
    expect(bed.server.stats().refusedOverCapacity).toBe(2);
  });
});

describe('requests in flight', () => {
  it('stops reading a connection at maxInFlightPerConnection and admits one more per handler that settles', async () => {
    const held: (() => void)[] = [];
    bed = await memoryBed(serveEcho(held), { maxInFlightPerConnection: 3 });
    const client = await bed.connect('echo');
    const replies = Array.from({ length: 10 }, (_, i) => client.request(2, Buffer.from(String(i))));
    await bed.poller.settle();
    expect(held.length).toBe(3);
    expect(bed.server.connections()[0]!.stats).toMatchObject({ inFlight: 3, readPaused: true });
    held[0]!();
    await bed.poller.settle();
    expect(held.length).toBe(4);
    for (let released = 1; released < 10; released++) {
      held[released]!();
      await bed.poller.settle();
    }
    expect((await Promise.all(replies)).map(String)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  });

  it('stops every connection at the server-wide maxInFlight, and wakes them as handlers settle', async () => {
    const held: (() => void)[] = [];
    bed = await memoryBed(serveEcho(held), { maxInFlight: 4 });
    const a = await bed.connect('echo');
    const b = await bed.connect('echo');
    const replies = [...[0, 1, 2].map(() => a.request(2)), ...[0, 1, 2].map(() => b.request(2))];
    await bed.poller.settle();
    expect(held.length).toBe(4);
    const echo = b.request(1, Buffer.from('behind the limit'));
    await bed.poller.settle();
    expect(bed.server.stats()).toMatchObject({ inFlight: 4, readPaused: true });
    // The gate opens again at three quarters of the limit: one settles, one more is admitted.
    held[0]!();
    await bed.poller.settle();
    expect(held.length).toBe(5);
    for (let released = 1; released < 6; released++) {
      held[released]!();
      await bed.poller.settle();
    }
    await Promise.all(replies);
    expect((await echo).toString()).toBe('behind the limit');
    expect(bed.server.stats()).toMatchObject({ inFlight: 0, readPaused: false });
  });
});

describe('message size', () => {
  it('rejects an oversize request with EMSGSIZE before writing anything, and serves the largest that fits', async () => {
    bed = await memoryBed(serveEcho([]), { maxMessageSize: 1000 });
    const client = await bed.connect('echo');
    const bytesOut = client.stats.bytesOut;
    await expect(client.request(1, Buffer.alloc(1001))).rejects.toMatchObject({ code: 'EMSGSIZE' });
    expect(client.stats.bytesOut).toBe(bytesOut);
    const largest = client.request(1, Buffer.alloc(1000, 1));
    await bed.poller.settle();
    expect((await largest).length).toBe(1000);
    expect(bed.server.stats().services[0]!.requests).toBe(1);
  });

  it('answers EMSGSIZE to a response over the agreed size and reports it as a handler failure', async () => {
    const failures: HandlerFailure[] = [];
    bed = await memoryBed((server) => {
      server.addService({
        id: 1,
        name: 'big',
        commands: { 0: (_payload, connection) => Buffer.alloc(connection.maxMessageSize + 1) },
      });
      server.on('handlerError', (failure) => failures.push(failure));
    });
    const client = await bed.connect('big', { maxMessageSize: 500 });
    const reply = client.request(0).catch((error: unknown) => error);
    await bed.poller.settle();
    expect(await reply).toMatchObject({ code: 'EMSGSIZE', message: expect.stringContaining('500 bytes') });
    expect(failures.map((failure) => (failure.error as IpcError).code)).toEqual(['EMSGSIZE']);
    expect(client.isOpen).toBe(true);
  });

  it('drops a peer that sends a frame over the agreed size, counting a protocol error', async () => {
    const reasons: string[] = [];
    bed = await memoryBed(
      (server) =>
        server.addService({
          id: 1,
          name: 'echo',
          commands: { 1: (payload) => payload },
          closed: (_connection, reason) => reasons.push((reason as IpcError).code),
        }),
      { maxMessageSize: 1000 },
    );
    const peer = await bed.raw();
    peer.write(hello('echo', 1000));
    await peer.read();
    // Over what any request written with a hello may be, too (below it, see the next test).
    peer.write(frame(FrameKind.Request, 1, 1, Buffer.alloc(EARLY_REQUEST_MAX + 1)));
    await bed.poller.settle();
    expect(reasons).toEqual(['EMSGSIZE']);
    expect(bed.server.stats()).toMatchObject({ connections: 0, protocolErrors: 1 });
    expect(bed.server.stats().services[0]).toMatchObject({ requests: 0, protocolErrors: 1 });
  });

  it('answers a request written with the hello, over an agreed size under 1 KiB, with EMSGSIZE and stays up', async () => {
    const ran: number[] = [];
    bed = await memoryBed(
      (server) =>
        server.addService({
          id: 1,
          name: 'echo',
          commands: {
            1: (payload) => {
              ran.push(payload.length);
              return payload;
            },
          },
        }),
      { maxMessageSize: 100 },
    );
    const peer = await bed.raw();
    // Sized before the client could know the server's maximum: within what every server reads.
    peer.write(
      Buffer.concat([
        hello('echo', 4096),
        frame(FrameKind.Request, 1, 1, Buffer.alloc(EARLY_REQUEST_MAX)),
        frame(FrameKind.Request, 1, 2, Buffer.alloc(100)),
      ]),
    );
    const answers = frames(await peer.read());
    expect(answers.map(({ kind, id }) => [kind, id])).toEqual([
      [FrameKind.Welcome, 0],
      [FrameKind.ErrorResponse, 1],
      [FrameKind.Response, 2],
    ]);
    expect(decodeError(answers[1]!.payload).code).toBe('EMSGSIZE');
    expect(ran).toEqual([100]);
    expect(bed.server.stats()).toMatchObject({ connections: 1, protocolErrors: 0 });
  });
});
