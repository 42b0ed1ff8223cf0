// Pipelined requests and events through the engine, in memory.
import { afterEach, describe, expect, it } from 'vitest';
import type { Connection, IpcError } from '@pollux/core';
import { deferred, hello, memoryBed, u32, type MemoryBed } from './memory-bed.js';

let bed: MemoryBed | undefined;

afterEach(async () => {
  await bed?.teardown();
  bed = undefined;
});

describe('pipelining', () => {
  it('keeps many requests in flight on one connection, each response reaching its own request', async () => {
    bed = await memoryBed((server) =>
      server.addService({ id: 1, name: 'echo', commands: { 1: (payload) => payload } }),
    );
    const client = await bed.connect('echo');
    const replies = Array.from({ length: 500 }, (_, i) => client.request(1, u32(i)));
    expect(client.pendingRequests).toBe(500);
    await bed.poller.settle();
    expect((await Promise.all(replies)).map((reply) => reply.readUInt32LE(0))).toEqual(
      Array.from({ length: 500 }, (_, i) => i),
    );
    expect(client.pendingRequests).toBe(0);
    expect(bed.server.stats().services[0]).toMatchObject({ requests: 500, responses: 500 });
  });

  it('lets async handlers answer out of order, each answer reaching the request it belongs to', async () => {
    const gates = new Map<number, (value: Buffer) => void>();
    bed = await memoryBed((server) =>
      server.addService({
        id: 1,
        name: 'slow',
        commands: {
          0: (payload) => {
            const gate = deferred<Buffer>();
            gates.set(payload.readUInt32LE(0), gate.resolve);
            return gate.promise;
          },
        },
      }),
    );
    const client = await bed.connect('slow');
    const order: number[] = [];
    const replies = Array.from({ length: 20 }, (_, i) =>
      client.request(0, u32(i)).then((reply) => {
        order.push(i);
        return reply.toString();
      }),
    );
    await bed.poller.settle();
    expect(gates.size).toBe(20);
    expect(bed.server.stats().inFlight).toBe(20);
    for (const i of [7, 19, 0, 3]) gates.get(i)!(Buffer.from(`answer ${i}`));
    await bed.poller.settle();
    expect(order).toEqual([7, 19, 0, 3]);
    for (const [i, answer] of gates) answer(Buffer.from(`answer ${i}`));
    await bed.poller.settle();
    expect(await Promise.all(replies)).toEqual(Array.from({ length: 20 }, (_, i) => `answer ${i}`));
    expect(bed.server.stats().inFlight).toBe(0);
  });

  it("answers an unknown command with ENOSYS and a handler's failure with its errno code but not its text, keeping the connection", async () => {
    const failures: unknown[] = [];
    bed = await memoryBed((server) => {
      server.on('handlerError', (failure) => failures.push(failure.error));
      server.addService({
        id: 1,
        name: 'kv',
        commands: {
          0: () => {
            throw Object.assign(new Error('no such key /srv/db'), { code: 'ENOENT' });
          },
          1: (payload) => payload,
        },
      });
    });
    const client = await bed.connect('kv');
    const unknown = client.request(9).catch((error: unknown) => error);
    const failed = client.request(0).catch((error: unknown) => error);
    const echoed = client.request(1, Buffer.from('still here'));
    await bed.poller.settle();
    expect(await unknown).toMatchObject({ code: 'ENOSYS', message: 'service "kv" has no command 9' });
    // Not an IpcError: a handler failure, whose errno-style code passes but whose text does not.
    expect(await failed).toMatchObject({
      code: 'ENOENT',
      message: 'service "kv" failed to handle command 0; the server reported why',
    });
    expect((await echoed).toString()).toBe('still here');
    expect(failures).toEqual([expect.objectContaining({ message: 'no such key /srv/db' })]);
  });
});

describe('events', () => {
  it('delivers events in the order sent, interleaved with responses as the server sent them', async () => {
    bed = await memoryBed((server) =>
      server.addService({
        id: 1,
        name: 'events',
        commands: {
          0: (payload, connection) => {
            const count = payload.readUInt32LE(0);
            for (let i = 0; i < count; i++) connection.sendEvent(i, Buffer.from(`event ${i}`));
            return Buffer.from(`after ${count}`);
          },
        },
      }),
    );
    const client = await bed.connect('events');
    const seen: string[] = [];
    client.on('event', (event, payload) => seen.push(`${event}:${payload.toString()}`));
    const replies = [2, 0, 3].map((count) =>
      client.request(0, u32(count)).then((reply) => seen.push(`reply ${reply.toString()}`)),
    );
    await bed.poller.settle();
    await Promise.all(replies);
    // Each response settles its promise as it is read: after the events the server sent before it.
    expect(seen).toEqual([
      '0:event 0',
      '1:event 1',
      '0:event 0',
      '1:event 1',
      '2:event 2',
      'reply after 2',
      'reply after 0',
      'reply after 3',
    ]);
    expect(client.stats.events).toBe(5);
  });

  it('refuses an event with EAGAIN once the client stops reading, and calls drained when it reads again', async () => {
    const drained: Connection<unknown>[] = [];
    const opened: Connection<unknown>[] = [];
    bed = await memoryBed(
      (server) => {
        server.addService({ id: 1, name: 'feed', commands: {}, drained: (connection) => drained.push(connection) });
        server.on('connection', (connection) => opened.push(connection));
      },
      { bufferSize: 4096, sendQueueHighWater: 8192, eventQueueLimit: 16 * 1024 },
    );
    const peer = await bed.raw();
    peer.write(hello('feed'));
    await bed.poller.settle();
    const connection = opened[0]!;
    const event = Buffer.alloc(1024);
    let sent = 0;
    let refusal: unknown;
    try {
      for (;;) {
        connection.sendEvent(1, event);
        sent++;
        await bed.poller.settle();
      }
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toMatchObject({ code: 'EAGAIN', message: expect.stringContaining('is not reading') });
    // What the buffer takes, plus the queue up to its limit: the rest was refused, not queued.
    expect(sent * event.length).toBeLessThanOrEqual(4096 + 16 * 1024 + event.length);
    expect(connection.stats.eventsRefused).toBe(1);
    expect(drained).toEqual([]);
    // Each read makes room for one more buffer's worth; drained comes once the queue is down to half.
    while (drained.length === 0 && connection.stats.queuedBytes > 0) await peer.read();
    expect(drained).toEqual([connection]);
    expect(connection.stats.queuedBytes).toBeLessThanOrEqual(8 * 1024);
    connection.sendEvent(1, event);
  });

  it("drops a client that does not read its events under onEventQueueFull: 'disconnect', with ENOBUFS", async () => {
    const dropped: IpcError[] = [];
    const closings: IpcError[] = [];
    const opened: Connection<unknown>[] = [];
    bed = await memoryBed(
      (server) => {
        server.addService({
          id: 1,
          name: 'feed',
          commands: {},
          closed: (_connection, reason) => closings.push(reason as IpcError),
        });
        server.on('connection', (connection) => opened.push(connection));
        server.on('slowConsumer', (_connection, reason) => dropped.push(reason));
      },
      { bufferSize: 4096, sendQueueHighWater: 8192, eventQueueLimit: 16 * 1024, onEventQueueFull: 'disconnect' },
    );
    const client = await bed.connect('feed');
    const lost = new Promise<IpcError>((resolve) => client.once('close', resolve));
    const connection = opened[0]!;
    // Written in one go, with no turn between: the client never gets to read.
    const event = Buffer.alloc(1024);
    while (connection.isOpen) connection.sendEvent(1, event);
    expect(dropped.map((reason) => reason.code)).toEqual(['ENOBUFS']);
    expect(closings.map((reason) => reason.code)).toEqual(['ENOBUFS']);
    expect(() => connection.sendEvent(1, event)).toThrowError(expect.objectContaining({ code: 'ENOTCONN' }));
    await bed.poller.settle();
    expect((await lost).code).toBe('ECONNRESET');
    expect(bed.server.stats().services[0]).toMatchObject({ slowConsumersDropped: 1, closed: 1, connections: 0 });
  });
});
