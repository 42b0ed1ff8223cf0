// Every delay the engine keeps, on the manual clock: no time passes but what the test advances.
//
// These need the engine's timers on `Poller.timer` and its durations on `Poller.now` (issue 13);
// while it still uses Node's own timers and clock, they fail: the manual clock moves nothing.
import { afterEach, describe, expect, it } from 'vitest';
import { IpcClient, IpcError, type Connection } from '@pollux/core';
import { MemoryTransport, type MemoryChannel, type MemoryNetwork } from '@pollux/core/testing';
import { FrameKind } from '../../src/protocol/frame.js';
import { ADDRESS, frame, frames, hello, memoryBed, type MemoryBed } from './memory-bed.js';

let bed: MemoryBed | undefined;

afterEach(async () => {
  await bed?.teardown();
  bed = undefined;
});

/** Tracks whether a promise has settled, without awaiting it. */
function watch<T>(promise: Promise<T>): { readonly settled: boolean; readonly promise: Promise<T> } {
  const state = { settled: false, promise };
  promise.then(
    () => (state.settled = true),
    () => (state.settled = true),
  );
  return state;
}

/**
 * A client that connected and wrote `bytes` but waits in the listener's queue, not yet accepted:
 * what the server sees of a client that comes in the turn a timer of its own runs out.
 */
function queuedClient(network: MemoryNetwork, bytes: Buffer): MemoryChannel {
  const transport = new MemoryTransport(network, {});
  void transport.connect(ADDRESS);
  const channel = transport.connections[0]!;
  expect(channel.writev([bytes], 1)).toBe(bytes.length);
  return channel;
}

/** Echo (command 1), and command 2 that answers when the test releases it. */
function serveEcho(held: (() => void)[], closings: string[] = []) {
  return (server: MemoryBed['server']): void => {
    server.addService({
      id: 1,
      name: 'echo',
      commands: {
        1: (payload) => payload,
        2: (payload) => new Promise<Uint8Array>((resolve) => held.push(() => resolve(payload))),
      },
      closed: (_connection, reason) => closings.push((reason as IpcError).code),
    });
  };
}

describe('handshake timeouts', () => {
  it('drops a client that says nothing for handshakeTimeout, not a millisecond earlier', async () => {
    bed = await memoryBed(serveEcho([]), { handshakeTimeout: 1000 });
    const peer = await bed.raw();
    // Accepted now, at 0 ms: its handshake time starts.
    await bed.poller.settle();
    await bed.poller.advance(999);
    expect(bed.server.stats().connections).toBe(1);
    await bed.poller.advance(1);
    expect(bed.server.stats()).toMatchObject({ connections: 0, closed: 1 });
    expect(await peer.read()).toEqual(Buffer.alloc(0));
    expect(peer.channel.read(Buffer.alloc(1), 0, 1)).toBe(0);
  });

  it("fails a client's connect with ETIMEDOUT when the server never answers its hello", async () => {
    bed = await memoryBed(serveEcho([]));
    const { network, poller } = bed;
    // A listener nobody accepts from: the hello is written and never read.
    const mute = new MemoryTransport(network).listen('mute');
    const connecting = watch(
      IpcClient.connect('mute', { service: 1, poller, transport: new MemoryTransport(network), timeout: 500 }),
    );
    // Connected and its hello written, at 0 ms: the handshake's time starts.
    await poller.settle();
    await poller.advance(499);
    expect(connecting.settled).toBe(false);
    await poller.advance(1);
    await expect(poller.settled(connecting.promise)).rejects.toMatchObject({
      code: 'ETIMEDOUT',
      message: expect.stringContaining('500 ms'),
    });
    mute.close();
  });
});

describe('request timeouts', () => {
  it('rejects a request with ETIMEDOUT after its timeout, and discards and counts the late response', async () => {
    const held: (() => void)[] = [];
    bed = await memoryBed(serveEcho(held));
    const client = await bed.connect('echo');
    const request = watch(client.request(2, Buffer.from('slow'), { timeout: 100 }));
    await bed.poller.advance(99);
    expect(request.settled).toBe(false);
    await bed.poller.advance(1);
    await expect(bed.poller.settled(request.promise)).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    held[0]!();
    const next = client.request(1, Buffer.from('fresh'));
    await bed.poller.settle();
    expect((await next).toString()).toBe('fresh');
    expect(client.stats.lateResponses).toBe(1);
  });

  it('gives up on pending responses when close({ timeout }) runs out: ETIMEDOUT, and the server hears a goodbye', async () => {
    const held: (() => void)[] = [];
    const closings: string[] = [];
    bed = await memoryBed(serveEcho(held, closings));
    const client = await bed.connect('echo');
    const request = watch(client.request(2));
    await bed.poller.settle();
    const closing = watch(client.close({ timeout: 100 }));
    await bed.poller.advance(99);
    expect([request.settled, closing.settled]).toEqual([false, false]);
    await bed.poller.advance(1);
    await expect(bed.poller.settled(request.promise)).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    await bed.poller.settled(closing.promise);
    expect(closings).toEqual(['ESHUTDOWN']);
  });
});

describe('connect retries', () => {
  it('keeps trying, spaced by backoff, until a server listens', async () => {
    bed = await memoryBed(serveEcho([]));
    const { network, poller, server } = bed;
    const connecting = watch(
      IpcClient.connect('later', {
        service: 'echo',
        poller,
        transport: new MemoryTransport(network),
        retry: { initialDelay: 50, maxDelay: 50, deadline: 10_000 },
      }),
    );
    await poller.advance(1000);
    expect(connecting.settled).toBe(false);
    await server.listen('later');
    // No attempt before the next backoff wait is over, and one at its end: at most maxDelay.
    await poller.advance(50);
    const client = await poller.settled(connecting.promise);
    expect(client.serviceName).toBe('echo');
    client.destroy();
  });

  it('gives up at the retry deadline with ETIMEDOUT, the last failure as its cause', async () => {
    bed = await memoryBed(serveEcho([]));
    const { network, poller } = bed;
    const connecting = watch(
      IpcClient.connect('nowhere', {
        service: 'echo',
        poller,
        transport: new MemoryTransport(network),
        retry: { initialDelay: 50, maxDelay: 100, deadline: 300 },
      }),
    );
    await poller.advance(299);
    expect(connecting.settled).toBe(false);
    await poller.advance(1);
    const failure = await poller.settled(connecting.promise).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(IpcError);
    expect(failure).toMatchObject({ code: 'ETIMEDOUT', cause: expect.objectContaining({ code: 'ECONNREFUSED' }) });
  });
});

describe('request rates', () => {
  it("waits for the connection's next token once the burst is spent", async () => {
    bed = await memoryBed(serveEcho([]), { requestRate: { perSecond: 10, burst: 1 } });
    const client = await bed.connect('echo');
    const replies = [0, 1, 2].map((i) => watch(client.request(1, Buffer.from(String(i)))));
    await bed.poller.settle();
    // The request that finds the burst spent still runs; reading stops after it.
    expect(replies.map((reply) => reply.settled)).toEqual([true, true, false]);
    await bed.poller.advance(99);
    expect(replies.map((reply) => reply.settled)).toEqual([true, true, false]);
    await bed.poller.advance(1);
    expect((await bed.poller.settled(Promise.all(replies.map((reply) => reply.promise)))).map(String)).toEqual([
      '0',
      '1',
      '2',
    ]);
    expect(bed.server.stats().services[0]!.throttleEpisodes).toBeGreaterThan(0);
  });

  it('stops the whole server at its serverRequestRate and reopens once tokens are back', async () => {
    bed = await memoryBed(serveEcho([]), { serverRequestRate: { perSecond: 10, burst: 2 } });
    const a = await bed.connect('echo');
    const b = await bed.connect('echo');
    const replies = [a, b, a, b].map((client) => watch(client.request(1)));
    await bed.poller.settle();
    expect(replies.filter((reply) => reply.settled).length).toBe(3);
    expect(bed.server.stats().readPaused).toBe(true);
    await bed.poller.advance(99);
    expect(replies.filter((reply) => reply.settled).length).toBe(3);
    await bed.poller.advance(1000);
    expect(replies.every((reply) => reply.settled)).toBe(true);
    expect(bed.server.stats().readPaused).toBe(false);
  });
});

describe('close deadlines', () => {
  it("closes connections whose handlers outlive close()'s timeout; their requests reject with ECONNRESET", async () => {
    const held: (() => void)[] = [];
    bed = await memoryBed(serveEcho(held));
    const client = await bed.connect('echo');
    const stuck = watch(client.request(2));
    await bed.poller.settle();
    const closing = watch(bed.server.close({ timeout: 50 }));
    await bed.poller.advance(49);
    expect([stuck.settled, closing.settled]).toEqual([false, false]);
    await bed.poller.advance(1);
    await expect(bed.poller.settled(stuck.promise)).rejects.toMatchObject({ code: 'ECONNRESET' });
    await bed.poller.settled(closing.promise);
    expect(bed.server.stats().connections).toBe(0);
  });

  it('ends a closing connection whose client does not read after 2 s, even with output left', async () => {
    const opened: Connection<unknown>[] = [];
    const closings: string[] = [];
    bed = await memoryBed(
      (server) => {
        serveEcho([], closings)(server);
        server.on('connection', (connection) => opened.push(connection));
      },
      { bufferSize: 4096 },
    );
    const peer = await bed.raw();
    peer.write(hello('echo'));
    await bed.poller.settle();
    for (let i = 0; i < 8; i++) opened[0]!.sendEvent(1, Buffer.alloc(1024));
    await bed.poller.settle();
    const closing = watch(bed.server.close());
    await bed.poller.advance(1999);
    expect(closing.settled).toBe(false);
    expect(closings).toEqual([]);
    await bed.poller.advance(1);
    await bed.poller.settled(closing.promise);
    expect(closings).toEqual(['ECONNABORTED']);
    // It got what fitted its buffer, and then the end of the stream.
    const received = frames(await peer.read());
    expect(received.map((f) => f.kind).slice(0, 2)).toEqual([FrameKind.Welcome, FrameKind.Event]);
    expect(peer.channel.read(Buffer.alloc(1), 0, 1)).toBe(0);
  });
});

describe('idle servers', () => {
  it("emits 'idle' after idleTimeout with no client, and a client that comes meanwhile puts it off", async () => {
    let idle = 0;
    bed = await memoryBed(serveEcho([]), { idleTimeout: 1000 });
    bed.server.on('idle', () => idle++);
    await bed.poller.advance(500);
    const client = await bed.connect('echo');
    await bed.poller.advance(1000);
    expect(idle).toBe(0);
    await bed.poller.settled(client.close());
    await bed.poller.advance(999);
    expect(idle).toBe(0);
    await bed.poller.advance(1);
    expect(idle).toBe(1);
  });

  it('waits anew, without going idle, when a client that came as the wait ran out came and went at once', async () => {
    let idle = 0;
    bed = await memoryBed(serveEcho([]), { idleTimeout: 1000 });
    bed.server.on('idle', () => idle++);
    const { network, poller, server } = bed;
    const comers: MemoryChannel[] = [];
    // The idle wait restarts when its last client is gone: after this timer, due at the same moment.
    poller.timer(1000, () => {
      // A client that says hello and goodbye at once, still in the listener's queue as the wait runs out.
      comers.push(queuedClient(network, Buffer.concat([hello('echo'), frame(FrameKind.Goodbye, 0, 0)])));
    });
    await poller.settled(bed.connect('echo').then((client) => client.close()));
    await poller.advance(1000);
    // Served and gone within the turn the wait ran out in: that started a wait of its own.
    expect(server.stats().services[0]).toMatchObject({ accepted: 2, connections: 0 });
    expect(idle).toBe(0);
    await poller.advance(999);
    expect(idle).toBe(0);
    await poller.advance(1);
    expect(idle).toBe(1);
    for (const channel of comers) channel.close();
  });

  it('does not go idle once a client that came as the wait ran out had the server closed', async () => {
    const events: string[] = [];
    let closeAtNext = false;
    bed = await memoryBed(
      (server) =>
        server.addService({
          id: 1,
          name: 'echo',
          commands: {},
          created: () => {
            if (closeAtNext) void server.close();
          },
        }),
      { idleTimeout: 1000 },
    );
    const { network, poller, server } = bed;
    server.on('idle', () => events.push('idle'));
    server.on('closing', () => events.push('closing'));
    const comers: MemoryChannel[] = [];
    poller.timer(1000, () => {
      closeAtNext = true;
      comers.push(queuedClient(network, hello('echo')));
    });
    await poller.settled(bed.connect('echo').then((client) => client.close()));
    await poller.advance(2000);
    expect(events).toEqual(['closing']);
    for (const channel of comers) channel.close();
  });

  it('neither goes idle nor closes when several clients wait in the queue as the wait runs out, and takes them all', async () => {
    const events: string[] = [];
    bed = await memoryBed(serveEcho([]), { idleTimeout: 1000, idleAction: 'close' });
    const { network, poller, server } = bed;
    server.on('idle', () => events.push('idle'));
    server.on('closing', () => events.push('closing'));
    const comers: MemoryChannel[] = [];
    poller.timer(1000, () => {
      for (let i = 0; i < 3; i++) comers.push(queuedClient(network, hello('echo')));
    });
    // A client that comes and goes restarts the wait, after the timer above: both are due together.
    await poller.settled(bed.connect('echo').then((client) => client.close()));
    await poller.advance(1000);
    expect(events).toEqual([]);
    expect(server.stats().services[0]).toMatchObject({ accepted: 4, connections: 3 });
    for (const channel of comers) channel.close();
  });

  it('keeps a client whose hello comes just before handshakeTimeout, and answers the request sent with it', async () => {
    bed = await memoryBed(serveEcho([]), { handshakeTimeout: 1000 });
    const peer = await bed.raw();
    await bed.poller.advance(999);
    peer.write(Buffer.concat([hello('echo'), frame(FrameKind.Request, 1, 1, Buffer.from('just in time'))]));
    await bed.poller.advance(1000);
    const received = frames(await peer.read());
    expect(received.map((f) => f.kind)).toEqual([FrameKind.Welcome, FrameKind.Response]);
    expect(bed.server.stats().connections).toBe(1);
  });
});
