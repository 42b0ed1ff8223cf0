import type { IpcClient, IpcError } from 'pollux';
import { describe, expect, it } from 'vitest';
import { transportMatrix, useBackends } from './support/backends.js';
import { openFdCount } from './support/fds.js';
import { deferred, until, type TestServer } from './support/server.js';
import { DROPPED_CODES, stalledClient } from './support/stalled-client.js';

const NEWS = 1;
const OTHER = 2;
const HEADLINE = 5;

describe.each(transportMatrix)('broadcast, server on $server, clients on $client, over $transport', (pair) => {
  const backends = useBackends(pair);

  /** Counts each client's events of `id` and keeps the last payload. */
  function watch(client: IpcClient): { count: number; last: string } {
    const seen = { count: 0, last: '' };
    client.on('event', (id, payload) => {
      if (id !== HEADLINE) return;
      seen.count++;
      seen.last = payload.toString();
    });
    return seen;
  }

  it('reaches every open connection of the service, and only those the filter picks', async () => {
    const fdsBefore = openFdCount();
    let news!: ReturnType<typeof addNews>;
    const addNews = (server: TestServer['server']) =>
      server.addService<{ topic: string }>({
        id: NEWS,
        name: 'news',
        createContext: () => ({ topic: '' }),
        commands: {
          0: (payload, connection) => {
            connection.context.topic = payload.toString();
          },
        },
      });
    const test = await backends.startServerOn((server) => {
      news = addNews(server);
      server.addService({ id: OTHER, name: 'other', commands: {} });
    });
    const readers = await Promise.all(
      ['sport', 'sport', 'weather', 'weather'].map((topic) =>
        backends.connectTo(test.address, 'news').then(async (client) => {
          await client.request(0, Buffer.from(topic));
          return client;
        }),
      ),
    );
    const bystander = await backends.connectTo(test.address, 'other');
    const seen = readers.map(watch);
    const bystanderSeen = watch(bystander);
    expect(news.connectionCount).toBe(4);
    expect([news.id, news.name]).toEqual([NEWS, 'news']);

    expect(news.broadcast(HEADLINE, Buffer.from('to all'))).toEqual({ sent: 4, refused: [] });
    await until(() => seen.every((s) => s.count === 1));
    expect(
      news.broadcast(HEADLINE, Buffer.from('sport only'), (connection) => connection.context.topic === 'sport'),
    ).toEqual({ sent: 2, refused: [] });
    await until(() => seen[0]!.count === 2 && seen[1]!.count === 2);
    // An echo round trip on every reader: anything broadcast before it has arrived by then.
    await Promise.all(
      readers.map((reader) =>
        reader.request(0, Buffer.from(reader === readers[0] || reader === readers[1] ? 'sport' : 'weather')),
      ),
    );
    expect(seen.map((s) => [s.count, s.last])).toEqual([
      [2, 'sport only'],
      [2, 'sport only'],
      [1, 'to all'],
      [1, 'to all'],
    ]);
    expect(bystanderSeen.count).toBe(0);

    expect(() => news.broadcast(70_000, Buffer.alloc(1))).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => news.broadcast(1, 'text' as unknown as Uint8Array)).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );

    await readers[3]!.close();
    await until(() => news.connectionCount === 3);
    expect(news.broadcast(HEADLINE, Buffer.from('fewer'))).toEqual({ sent: 3, refused: [] });
    await Promise.all([...readers.slice(0, 3), bystander].map((client) => client.close()));
    await test.stop();
    expect(openFdCount()).toBe(fdsBefore);
  });

  it.each([
    { policy: 'reject' as const, stalledStays: true },
    { policy: 'disconnect' as const, stalledStays: false },
  ])("honours each connection's event queue: onEventQueueFull '$policy'", async ({ policy, stalledStays }) => {
    const drained = deferred<void>();
    const slow = deferred<IpcError>();
    let news!: ReturnType<TestServer['server']['addService']>;
    const test = await backends.startServerOn(
      (server) => {
        news = server.addService({
          id: NEWS,
          name: 'news',
          commands: { 0: () => undefined },
          drained: () => drained.resolve(),
        });
        server.on('slowConsumer', (_connection, reason) => slow.resolve(reason));
      },
      { sendQueueHighWater: 64 * 1024, eventQueueLimit: 256 * 1024, onEventQueueFull: policy },
    );
    const readers = await Promise.all([0, 1].map(() => backends.connectTo(test.address, 'news')));
    const seen = readers.map(watch);
    const stalled = await stalledClient(backends, test.server, test.address, 'news');
    const stalledConnection = stalled.connection;

    const event = Buffer.alloc(16 * 1024, 7);
    let result = news.broadcast(HEADLINE, event);
    let rounds = 1;
    while (result.refused.length === 0) {
      // The readers take each round before the next, so only the one that never reads falls behind.
      await until(() => seen.every((s) => s.count === rounds));
      result = news.broadcast(HEADLINE, event);
      rounds++;
    }
    expect(result).toEqual({ sent: 2, refused: [stalledConnection] });
    expect(stalledConnection.isOpen).toBe(stalledStays);
    expect(stalledConnection.stats.eventsRefused).toBe(1);
    await Promise.all(readers.map((reader) => reader.request(0)));
    expect(seen.map((s) => s.count)).toEqual([rounds, rounds]);
    if (stalledStays) {
      stalled.resume();
      await drained.promise;
      expect(news.broadcast(HEADLINE, event)).toEqual({ sent: 3, refused: [] });
      stalledConnection.close();
      // Every round but the refused one, and the one after the drain: refused, never lost.
      expect(await stalled.peer.next('closed')).toMatchObject({ code: 'ESHUTDOWN', events: rounds });
    } else {
      expect((await slow.promise).code).toBe('ENOBUFS');
      expect(news.connectionCount).toBe(2);
      stalled.resume();
      expect(DROPPED_CODES).toContain((await stalled.peer.next('closed'))['code']);
    }
    await stalled.peer.exited;
    await Promise.all(readers.map((reader) => reader.close()));
    await test.stop();
  });
});
