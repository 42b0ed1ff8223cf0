// How the server takes clients off a listener: one per readiness, past clients that gave up in the queue.
import { constants } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { IpcClient, IpcServer, type Channel, type Transport } from '@pollux/core';
import { ManualPoller, MemoryNetwork, MemoryTransport } from '@pollux/core/testing';

const EAGAIN = -constants.errno.EAGAIN;
const ECONNABORTED = -constants.errno.ECONNABORTED;

/** A memory transport whose listener records what each accept returned, and can fail some first. */
function countingTransport(network: MemoryNetwork, abortFirst: number) {
  const memory = new MemoryTransport(network, { uid: 0, gid: 0 });
  const results: (number | 'channel')[] = [];
  let aborts = abortFirst;
  const transport: Transport = {
    listen: (address) => {
      const listener = memory.listen(address);
      return {
        fd: listener.fd,
        address: listener.address,
        accept: (): Channel | number => {
          // A client that gave up while it waited: the kernel reports ECONNABORTED for it.
          if (aborts > 0 && listener.waiting > 0) {
            aborts--;
            results.push(ECONNABORTED);
            return ECONNABORTED;
          }
          const channel = listener.accept();
          results.push(typeof channel === 'number' ? channel : 'channel');
          return channel;
        },
        close: () => listener.close(),
      };
    },
    connect: (address) => memory.connect(address),
  };
  return { transport, results };
}

describe('accepting clients', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
  });

  async function serve(abortFirst: number) {
    const network = new MemoryNetwork();
    const poller = new ManualPoller(network);
    const { transport, results } = countingTransport(network, abortFirst);
    const server = new IpcServer({ poller, transport });
    server.addService({ id: 1, name: 'echo', commands: { 1: (payload) => payload } });
    await server.listen('accepting');
    const clients: IpcClient[] = [];
    cleanup = async () => {
      for (const client of clients) client.destroy();
      await poller.settled(server.close());
    };
    const connect = async (): Promise<IpcClient> => {
      const client = await poller.settled(
        IpcClient.connect('accepting', { service: 1, poller, transport: new MemoryTransport(network, {}) }),
      );
      clients.push(client);
      return client;
    };
    return { server, poller, results, connect };
  }

  it('takes one client per readiness of the listener, so no accept finds the queue empty', async () => {
    const { server, results, connect } = await serve(0);
    for (let i = 0; i < 3; i++) await connect();
    expect(results).toEqual(['channel', 'channel', 'channel']);
    expect(results).not.toContain(EAGAIN);
    expect(server.stats()).toMatchObject({ accepted: 3, connections: 3 });
  });

  it('accepts all of a burst of clients that connect at once', async () => {
    const { server, poller, connect } = await serve(0);
    const clients = await poller.settled(Promise.all(Array.from({ length: 20 }, connect)));
    const answers = await poller.settled(
      Promise.all(clients.map((client, i) => client.request(1, Buffer.from(`c${i}`)))),
    );
    expect(answers.map(String)).toEqual(clients.map((_, i) => `c${i}`));
    expect(server.stats()).toMatchObject({ accepted: 20, connections: 20 });
  });

  it('does not let a client that gave up in the queue hold up the one behind it', async () => {
    const { server, poller, results, connect } = await serve(2);
    const client = await connect();
    expect(String(await poller.settled(client.request(1, Buffer.from('served'))))).toBe('served');
    expect(results).toEqual([ECONNABORTED, ECONNABORTED, 'channel']);
    expect(server.stats()).toMatchObject({ accepted: 1, connections: 1 });
  });
});
