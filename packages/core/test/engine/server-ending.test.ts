// How a server ends its connections: destroy, a graceful close and a connection's own close, in memory.
import diagnosticsChannel from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import { IpcClient, IpcServer, type Connection, type IpcError, type Poller } from '@pollux/core';
import { MemoryNetwork, MemoryTransport } from '@pollux/core/testing';
import { deferred, memoryBed, type MemoryBed } from './memory-bed.js';

let bed: MemoryBed | undefined;

afterEach(async () => {
  await bed?.teardown();
  bed = undefined;
});

/** Records what is published on `names` until the returned function is called. */
function trace(names: readonly string[]): { seen: string[]; stop: () => void } {
  const seen: string[] = [];
  const listeners = names.map((name) => {
    const listener = (message: unknown): void => {
      const { connection, error } = message as { connection?: Connection<unknown>; error?: IpcError };
      seen.push(`${name.split(':').slice(2).join(':')}#${connection?.id ?? '-'}${error ? ` ${error.code}` : ''}`);
    };
    diagnosticsChannel.subscribe(name, listener);
    return [name, listener] as const;
  });
  return {
    seen,
    stop: () => {
      for (const [name, listener] of listeners) diagnosticsChannel.unsubscribe(name, listener);
    },
  };
}

describe('IpcServer.destroy', () => {
  it('writes nothing more: the client sees a reset, not a goodbye, and the closed hook hears destroy', async () => {
    const reasons: string[] = [];
    bed = await memoryBed((server) =>
      server.addService({
        id: 1,
        name: 'held',
        commands: { 1: () => new Promise<Uint8Array>(() => {}) },
        closed: (_connection, reason) => reasons.push((reason as IpcError).message),
      }),
    );
    const client = await bed.connect('held');
    const pending = client.request(1).catch((error: unknown) => error as IpcError);
    const closed = new Promise<IpcError>((resolve) => client.once('close', resolve));
    await bed.poller.settle();
    await bed.poller.settled(bed.server.destroy());
    expect((await closed).code).toBe('ECONNRESET');
    expect(((await pending) as IpcError).code).toBe('ECONNRESET');
    expect(reasons).toEqual(['server destroyed the connection']);
  });
});

describe('a graceful server close', () => {
  it('lets a running handler send events before it answers', async () => {
    const release = deferred<void>();
    let progress: IpcError | undefined;
    bed = await memoryBed((server) =>
      server.addService({
        id: 1,
        name: 'progress',
        commands: {
          1: async (_payload, connection) => {
            await release.promise;
            try {
              connection.sendEvent(7, Buffer.from('half way'));
            } catch (error) {
              progress = error as IpcError;
            }
            return Buffer.from('done');
          },
        },
      }),
    );
    const client = await bed.connect('progress');
    const events: string[] = [];
    client.on('event', (event, payload) => events.push(`${event}:${payload.toString()}`));
    const answer = client.request(1);
    await bed.poller.settle();
    const closing = bed.server.close({ timeout: 60_000 });
    release.resolve();
    await bed.poller.settle();
    expect(progress).toBeUndefined();
    expect((await answer).toString()).toBe('done');
    expect(events).toEqual(['7:half way']);
    await bed.poller.settled(closing);
  });

  it('is cut short for one connection that the service closes meanwhile', async () => {
    let connection: Connection | undefined;
    bed = await memoryBed((server) => {
      server.addService({ id: 1, name: 'held', commands: { 1: () => new Promise<Uint8Array>(() => {}) } });
      server.on('connection', (made) => {
        connection = made as Connection;
      });
    });
    const client = await bed.connect('held');
    const closed = new Promise<IpcError>((resolve) => client.once('close', resolve));
    const pending = client.request(1).catch((error: unknown) => error as IpcError);
    await bed.poller.settle();
    const closing = bed.server.close({ timeout: 60_000 });
    await bed.poller.settle();
    connection!.close();
    // No time passes: the goodbye goes out now, not when the server's wait runs out.
    await bed.poller.settle();
    expect((await closed).code).toBe('ESHUTDOWN');
    expect(((await pending) as IpcError).code).toBe('ECONNRESET');
    await bed.poller.settled(closing);
  });
});

describe('a connection closed by the service as it opens', () => {
  it('still counts as accepted, and a tracer sees it open before it closes', async () => {
    const tracer = trace(['pollux:server:connection:open', 'pollux:server:connection:close']);
    try {
      bed = await memoryBed((server) => {
        server.addService({ id: 1, name: 'early', commands: {}, created: (connection) => connection.close() });
        server.addService({ id: 2, name: 'late', commands: {} });
        server.on('connection', (connection) => {
          if (connection.id === 2) connection.close();
        });
      });
      for (const service of ['early', 'late']) {
        const client = await bed.connect(service);
        const closed = new Promise<IpcError>((resolve) => client.once('close', resolve));
        await bed.poller.settled(closed);
      }
      expect(bed.server.stats()).toMatchObject({ accepted: 2, closed: 2 });
      expect(tracer.seen).toEqual([
        'connection:open#1',
        'connection:close#1',
        'connection:open#2',
        'connection:close#2',
      ]);
    } finally {
      tracer.stop();
    }
  });
});

describe('request tracing', () => {
  it('reports an answer dropped because its handler closed the connection as ECONNRESET, not a success', async () => {
    const tracer = trace(['pollux:server:request:finish']);
    try {
      bed = await memoryBed((server) =>
        server.addService({
          id: 1,
          name: 'quits',
          commands: {
            1: (_payload, connection) => {
              connection.close();
              return Buffer.from('never sent');
            },
          },
        }),
      );
      const client = await bed.connect('quits');
      const answer = client.request(1).catch((error: unknown) => error as IpcError);
      expect(await bed.poller.settled(answer)).toMatchObject({ code: 'ECONNRESET' });
      expect(tracer.seen).toEqual(['request:finish#1 ECONNRESET']);
    } finally {
      tracer.stop();
    }
  });
});

describe('a poller written before timers joined the contract', () => {
  it('is refused up front with EINVAL by server and client, before any fd is watched', async () => {
    const network = new MemoryNetwork();
    const added: number[] = [];
    const fourMethods = {
      add: (fd: number) => added.push(fd),
      modify: () => {},
      remove: () => {},
      job: (fn: () => void) => queueMicrotask(fn),
    } as unknown as Poller;
    const transport = new MemoryTransport(network, {});
    expect(() => new IpcServer({ poller: fourMethods, transport })).toThrow(
      expect.objectContaining({ code: 'EINVAL', message: expect.stringContaining('timer, now') }),
    );
    await expect(IpcClient.connect('nowhere', { service: 1, poller: fourMethods, transport })).rejects.toMatchObject({
      code: 'EINVAL',
    });
    expect(added).toEqual([]);
  });
});
