import { describe, expect, it } from 'vitest';
import { openClient, ShmTransport, type Connection, type IpcClient } from 'pollux';
import { deferred, startServer } from './support/server.js';
import { shmBackendMatrix, useBackends } from './support/backends.js';
import { useTestResources } from './support/test-resources.js';

/** A ring's mapping: a 4 KiB header of control words, then the ring. */
const HEADER_BYTES = 4096;
const RING_BYTES = 64 * 1024;

/** Zero-copy receive over shared memory: payloads as views of the peer's ring, and what that asks of receivers. */
describe.each(shmBackendMatrix)('zero-copy receive, server on $server, clients on $client', (pair) => {
  const { clientPoller, connectTo, serverPoller, startServerOn } = useBackends(pair);

  const resources = useTestResources();
  const { clients } = resources;

  /** A server and a client over shared memory with `RING_BYTES` rings: views lent unless `views` says otherwise, checked as asked. */
  async function connectPair(
    commands: Record<number, (payload: Buffer, connection: Connection<unknown>) => unknown>,
    checkLentViews: boolean,
    views: { lendViews?: boolean } = { lendViews: true },
  ): Promise<{ client: IpcClient; connection: () => Connection<unknown> }> {
    let connection: Connection<unknown> | undefined;
    resources.running = await startServerOn(
      (server) =>
        server.addService({
          id: 1,
          name: 'views',
          created: (c) => {
            connection = c;
          },
          commands: { 0: () => undefined, ...commands } as never,
        }),
      { shm: { ringBytes: RING_BYTES, ...views, checkLentViews } },
    );
    const client = await connectTo(resources.running.address.slice('shm:'.length), 'views', {
      transport: new ShmTransport({ ringBytes: RING_BYTES, ...views, checkLentViews }),
    });
    clients.push(client);
    // The first bytes each way come with the switch to shared memory and are read as a copy.
    await client.request(0);
    return { client, connection: () => connection! };
  }

  it('by default hands handlers and listeners copies they may write into, as over sockets', async () => {
    // A view lies in memory mapped read-only: writing into one would kill this process.
    const { client, connection } = await connectPair({ 1: (payload) => payload.swap16() }, false, {});
    const events: string[] = [];
    client.on('event', (_event, payload) => events.push(payload.reverse().toString()));
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => client.request(1, Buffer.from(`ab${i % 10}${i % 10}`))),
    );
    expect(answers.map(String)).toEqual(Array.from({ length: 200 }, (_, i) => `ba${i % 10}${i % 10}`));
    connection().sendEvent(7, Buffer.from('event'));
    await client.request(1, Buffer.from('done'));
    expect(events).toEqual(['tneve']);
  });

  it('with lendViews, hands handlers and event listeners views of the ring, and request() an owned copy', async () => {
    const seen: { mapping: number; text: string }[] = [];
    const { client, connection } = await connectPair(
      {
        1: (payload) => {
          seen.push({ mapping: payload.buffer.byteLength, text: payload.toString() });
          return Buffer.from(`re:${payload.toString()}`);
        },
      },
      false,
    );
    const events: { mapping: number; text: string }[] = [];
    client.on('event', (_event, payload) =>
      events.push({ mapping: payload.buffer.byteLength, text: payload.toString() }),
    );

    const first = await client.request(1, Buffer.from('one'));
    // Kept past its callback, a response stays what it was while later ones pass through the ring.
    const later = await Promise.all(Array.from({ length: 200 }, (_, i) => client.request(1, Buffer.from(`n${i}`))));
    expect(first.toString()).toBe('re:one');
    expect(later.map(String)).toEqual(Array.from({ length: 200 }, (_, i) => `re:n${i}`));
    expect(first.buffer.byteLength).not.toBe(HEADER_BYTES + RING_BYTES);

    connection().sendEvent(7, Buffer.from('event'));
    await client.request(1, Buffer.from('after the event'));
    expect(seen.length).toBe(202);
    // Every payload the handler got lay in the client's mapped ring: no copy was made.
    expect(new Set(seen.map((s) => s.mapping))).toEqual(new Set([HEADER_BYTES + RING_BYTES]));
    expect(events).toEqual([{ mapping: HEADER_BYTES + RING_BYTES, text: 'event' }]);
  });

  it('with checkLentViews, empties every view kept past its callback, and sends a late answer made of one empty', async () => {
    const kept: Buffer[] = [];
    const late = deferred<void>();
    const { client, connection } = await connectPair(
      {
        1: (payload) => {
          kept.push(payload);
          return Buffer.from(payload.toString().toUpperCase());
        },
        // An async handler that answers with its payload after returning: the bug checks catch.
        2: async (payload) => {
          await late.promise;
          return payload;
        },
      },
      true,
    );
    let keptEvent: Buffer | undefined;
    client.on('event', (_event, payload) => {
      expect(payload.toString()).toBe('tick');
      keptEvent = payload;
    });

    // While the handler ran, the view held the request; once it returned, the view is empty.
    expect((await client.request(1, Buffer.from('abc'))).toString()).toBe('ABC');
    expect(kept).toHaveLength(1);
    expect(kept[0]!.length).toBe(0);

    connection().sendEvent(3, Buffer.from('tick'));
    await client.request(1, Buffer.from('x'));
    expect(keptEvent!.length).toBe(0);

    const answer = client.request(2, Buffer.from('gone by the time it is answered'));
    await client.request(1, Buffer.from('y'));
    late.resolve();
    expect((await answer).length).toBe(0);
  });

  it('sends an echoed payload intact although its lend ended before the queue was written', async () => {
    // Checked views: a payload queued by reference would go out empty once its lend ended.
    const { client } = await connectPair({ 1: (payload) => payload }, true);
    const sizes = [0, 1, 1000, 1025, 5000, 20_000, RING_BYTES - 12, RING_BYTES, 3 * RING_BYTES + 7];
    const payloads = sizes.map((size, n) => Buffer.alloc(size, n + 1).fill(n + 7, 0, Math.min(size, 3)));
    const answers = await Promise.all(payloads.concat(payloads).map((payload) => client.request(1, payload)));
    expect(answers.map((answer, i) => answer.equals(payloads[i % payloads.length]!))).not.toContain(false);
  });

  it('sends a payload one connection lent as an event on another intact (a broadcast)', async () => {
    // Checked views: a payload queued by reference on the other connection would go out empty.
    const listening: Connection<unknown>[] = [];
    const { client } = await connectPair(
      {
        1: (_payload, connection) => void listening.push(connection),
        2: (payload) => {
          for (const connection of listening) connection.sendEvent(1, payload);
        },
      },
      true,
    );
    const listener = await connectTo(resources.running!.address.slice('shm:'.length), 'views', {
      transport: new ShmTransport({ ringBytes: RING_BYTES, lendViews: true, checkLentViews: true }),
    });
    clients.push(listener);
    await listener.request(1);
    // Larger than the listener's ring, some of each event waits in the server's queue.
    const payloads = [1025, 20_000, RING_BYTES, 3 * RING_BYTES + 7].map((size, n) => Buffer.alloc(size, n + 1));
    const received: Buffer[] = [];
    const all = deferred<void>();
    listener.on('event', (_event, payload) => {
      received.push(Buffer.from(payload));
      if (received.length === payloads.length) all.resolve();
    });
    await Promise.all(payloads.map((payload) => client.request(2, payload)));
    await all.promise;
    expect(received.map((payload, i) => payload.equals(payloads[i]!))).not.toContain(false);
  });

  it('copies a lent payload that a handler passes to a client still connecting', async () => {
    // Checked views: a request queued with the view would go out empty.
    const downstream = await startServer(
      (server) => server.addService({ id: 1, name: 'echo', commands: { 1: (payload) => payload } }),
      { poller: serverPoller() },
    );
    try {
      const forwarders: IpcClient[] = [];
      const { client } = await connectPair(
        {
          1: (payload) => {
            const forwarder = openClient(downstream.address, 'echo', { poller: clientPoller() });
            forwarders.push(forwarder);
            // Larger than what leaves with the hello: it waits for the welcome in the client's queue.
            return forwarder.request(1, payload);
          },
        },
        true,
      );
      const payloads = [2000, 20_000].map((size, n) => Buffer.alloc(size, n + 1));
      const answers = await Promise.all(payloads.map((payload) => client.request(1, payload)));
      expect(answers.map((answer, i) => answer.equals(payloads[i]!))).not.toContain(false);
      await Promise.all(forwarders.map((forwarder) => forwarder.close()));
    } finally {
      await downstream.stop();
    }
  });

  it('keeps a view readable after the handler that got it closes its connection', async () => {
    let readInHandler = '';
    const { client } = await connectPair(
      {
        1: (payload, connection) => {
          connection.close();
          readInHandler = payload.toString();
        },
      },
      false,
    );
    // A request in flight when the server closes is not answered, goodbye or not.
    await expect(client.request(1, Buffer.from('read after close'))).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(readInHandler).toBe('read after close');
  });

  it('keeps a view readable after the event listener that got it destroys its client', async () => {
    const { client, connection } = await connectPair({}, false);
    let readInListener = '';
    const got = deferred<void>();
    client.on('event', (_event, payload) => {
      client.destroy();
      readInListener = payload.toString();
      got.resolve();
    });
    connection().sendEvent(2, Buffer.from('last event'));
    await got.promise;
    expect(readInListener).toBe('last event');
  });

  it('hands each event over once when the client closes in a listener as the server closes', async () => {
    const { client } = await connectPair(
      {
        1: (_payload, connection) => {
          for (const text of ['a', 'b', 'c']) connection.sendEvent(1, Buffer.from(text));
          connection.close();
        },
      },
      false,
    );
    const received: string[] = [];
    const closed = deferred<void>();
    client.on('event', (_event, payload) => {
      received.push(payload.toString());
      if (received.length === 1) void client.close().finally(() => closed.resolve());
    });
    client.request(1).catch(() => undefined);
    await closed.promise;
    expect(received[0]).toBe('a');
    expect(new Set(received).size, `events handed over: ${received.join(', ')}`).toBe(received.length);
  });
});
