import { existsSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServer, IpcError, type IpcServer } from 'pollux';
import { openFdCount } from './support/fds.js';
import { until, type TestServer } from './support/server.js';
import { backendMatrix, useBackends } from './support/backends.js';

describe.each(backendMatrix)('idle exit, server on $server, clients on $client', (pair) => {
  const { connectTo, startServerOn } = useBackends(pair);

  let fdsBefore: number;
  const running: TestServer[] = [];

  beforeEach(() => {
    fdsBefore = openFdCount();
  });

  afterEach(async () => {
    for (const server of running.splice(0)) await server.stop();
    expect(openFdCount()).toBe(fdsBefore);
  });

  /** A server with an echo service that counts its `'idle'` events. */
  async function idleServer(options: { idleTimeout: number; idleAction?: 'emit' | 'close' }): Promise<{
    server: IpcServer;
    address: string;
    idles: () => number;
    nextIdle: () => Promise<void>;
  }> {
    let idles = 0;
    const started = await startServerOn((server) => {
      server.addService({ id: 1, name: 'echo', commands: { 0: (payload) => payload } });
      server.on('idle', () => idles++);
    }, options);
    running.push(started);
    const { server, address } = started;
    return {
      server,
      address,
      idles: () => idles,
      nextIdle: () => new Promise((resolve) => server.once('idle', resolve)),
    };
  }

  it('emits idle when nobody came after listen, and again once the last client left', async () => {
    const { address, idles, nextIdle } = await idleServer({ idleTimeout: 10 });
    await nextIdle();
    const first = await connectTo(address, 'echo');
    const second = await connectTo(address, 'echo');
    first.destroy();
    expect((await second.request(0, Buffer.from('still served'))).toString()).toBe('still served');
    const idle = nextIdle();
    second.destroy();
    await idle;
    // Still listening: going idle only tells the application.
    const third = await connectTo(address, 'echo');
    expect((await third.request(0, Buffer.from('back'))).toString()).toBe('back');
    third.destroy();
    await nextIdle();
    expect(idles()).toBe(3);
  });

  it('does not go idle when a client arrives within the grace period', async () => {
    // Long enough for the second client to connect after the first left, even on a loaded machine.
    const idleTimeout = 1000;
    const { server, address, idles, nextIdle } = await idleServer({ idleTimeout });
    const first = await connectTo(address, 'echo');
    first.destroy();
    await until(() => server.stats().connections === 0);
    const second = await connectTo(address, 'echo');
    // A server that had no client from now on: its grace period ends after the first one's would have.
    const witness = await idleServer({ idleTimeout });
    await witness.nextIdle();
    expect(idles()).toBe(0);
    const idle = nextIdle();
    second.destroy();
    await idle;
    expect(idles()).toBe(1);
  });

  it("closes itself and releases its address with idleAction 'close'", async () => {
    const { server, address, nextIdle } = await idleServer({ idleTimeout: 10, idleAction: 'close' });
    const client = await connectTo(address, 'echo');
    const idle = nextIdle();
    client.destroy();
    await idle;
    expect(server.addresses).toEqual([]);
    expect(existsSync(address)).toBe(false);
    await expect(connectTo(address, 'echo')).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(server.listen(address)).rejects.toMatchObject({ code: 'ESHUTDOWN' });
    await server.close();
  });
});

describe('idle exit options', () => {
  it('refuses an idleTimeout or idleAction that is not one', () => {
    expect(() => createServer({ idleTimeout: 0 })).toThrow(IpcError);
    expect(() => createServer({ idleTimeout: 10, idleAction: 'exit' as never })).toThrow(
      "idleAction must be one of 'emit', 'close', got the string \"exit\"",
    );
  });
});
