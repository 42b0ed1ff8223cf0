// How the server takes clients off a listener: one per readiness, past connections it could not set up.
import { constants } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { IpcClient, IpcServer, type Channel, type Transport } from '@pollux/core';
import { ManualPoller, MemoryNetwork, MemoryTransport, type MemoryListener } from '@pollux/core/testing';

const EAGAIN = -constants.errno.EAGAIN;
const ECONNABORTED = -constants.errno.ECONNABORTED;

/**
 * A memory transport whose listener records what each accept returned, and fails the first
 * `abortFirst` connections it takes the way the socket transport fails one it cannot set up:
 * closed, and reported as `ECONNABORTED`.
 */
function recordingTransport(network: MemoryNetwork, abortFirst: number) {
  const memory = new MemoryTransport(network, { uid: 0, gid: 0 });
  const results: (number | 'channel')[] = [];
  let listening: MemoryListener | undefined;
  let aborts = abortFirst;
  const transport: Transport = {
    listen: (address) => {
      const listener = memory.listen(address);
      listening = listener;
      return {
        fd: listener.fd,
        address: listener.address,
        accept: (): Channel | number => {
          const channel = listener.accept();
          if (typeof channel !== 'number' && aborts > 0) {
            aborts--;
            channel.close();
            results.push(ECONNABORTED);
            return ECONNABORTED;
          }
          results.push(typeof channel === 'number' ? channel : 'channel');
          return channel;
        },
        close: () => listener.close(),
      };
    },
    connect: (address) => memory.connect(address),
  };
  return { transport, results, waiting: () => listening?.waiting ?? 0 };
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
    const { transport, results, waiting } = recordingTransport(network, abortFirst);
    const server = new IpcServer({ poller, transport });
    server.addService({ id: 1, name: 'echo', commands: { 1: (payload) => payload } });
    await server.listen('accepting');
    const clients: IpcClient[] = [];
    cleanup = async () => {
      for (const client of clients) client.destroy();
      await poller.settled(server.close());
    };
    /** Starts a connect; its connection waits in the listener's queue until the poller turns. */
    const connect = (): Promise<IpcClient> =>
      IpcClient.connect('accepting', { service: 1, poller, transport: new MemoryTransport(network, {}) }).then(
        (client) => {
          clients.push(client);
          return client;
        },
      );
    return { server, poller, results, waiting, connect };
  }

  it('takes one client per readiness of the listener, so no accept finds the queue empty', async () => {
    const { server, poller, results, connect } = await serve(0);
    for (let i = 0; i < 3; i++) await poller.settled(connect());
    expect(results).toEqual(['channel', 'channel', 'channel']);
    expect(results).not.toContain(EAGAIN);
    expect(server.stats()).toMatchObject({ accepted: 3, connections: 3 });
  });

  it('serves the clients it has taken between the accepts of a burst, and takes the whole burst', async () => {
    const { server, poller, results, waiting, connect } = await serve(0);
    const burst = Array.from({ length: 20 }, connect);
    expect(waiting()).toBe(20);
    // One turn takes one client: its hello and first request came with the connect.
    poller.turn();
    expect(results).toEqual(['channel']);
    expect(waiting()).toBe(19);
    const clients = await poller.settled(Promise.all(burst));
    const answers = await poller.settled(
      Promise.all(clients.map((client, i) => client.request(1, Buffer.from(`c${i}`)))),
    );
    expect(answers.map(String)).toEqual(clients.map((_, i) => `c${i}`));
    expect(server.stats()).toMatchObject({ accepted: 20, connections: 20 });
    expect(results).not.toContain(EAGAIN);
  });

  it('passes over connections it could not set up to the client behind them, in the same turn', async () => {
    const { server, poller, results, waiting, connect } = await serve(2);
    const attempts = [connect(), connect(), connect()];
    expect(waiting()).toBe(3);
    poller.turn();
    expect(results).toEqual([ECONNABORTED, ECONNABORTED, 'channel']);
    const outcomes = await poller.settled(Promise.allSettled(attempts));
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
    const client = (outcomes[2] as PromiseFulfilledResult<IpcClient>).value;
    expect(String(await poller.settled(client.request(1, Buffer.from('served'))))).toBe('served');
    expect(server.stats()).toMatchObject({ accepted: 1, connections: 1 });
  });
});
