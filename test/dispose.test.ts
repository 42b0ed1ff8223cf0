import { existsSync } from 'node:fs';
import { createServer, type IpcError } from 'pollux';
import { describe, expect, it } from 'vitest';
import { backendMatrix, useBackends } from './support/backends.js';
import { openFdCount } from './support/fds.js';
import { deferred, scratchSocket, until } from './support/server.js';

describe.each(backendMatrix)('disposal and destroy, server on $server, clients on $client', (pair) => {
  const backends = useBackends(pair);

  it('closes a client at the end of its `await using` block, and a server at the end of its own', async () => {
    const fdsBefore = openFdCount();
    const socket = scratchSocket();
    const closedReasons: string[] = [];
    {
      await using server = createServer({ poller: backends.serverPoller() });
      server.addService({
        id: 1,
        name: 'echo',
        commands: { 0: (payload) => payload },
        closed: (_c, reason) => closedReasons.push((reason as IpcError).code),
      });
      await server.listen(socket.address);
      {
        await using client = await backends.connectTo(socket.address, 'echo');
        expect((await client.request(0, Buffer.from('hi'))).toString()).toBe('hi');
      }
      // The client said goodbye: the server saw an orderly close, not a crash.
      await until(() => closedReasons.length === 1);
      expect(closedReasons).toEqual(['ESHUTDOWN']);
    }
    expect(existsSync(socket.address)).toBe(false);
    socket.remove();
    expect(openFdCount()).toBe(fdsBefore);
  });

  it('destroy() ends every connection at once, without waiting for running handlers, and cuts a close() short', async () => {
    const fdsBefore = openFdCount();
    const started = deferred<void>();
    const closedReasons: string[] = [];
    const test = await backends.startServerOn((server) =>
      server.addService({
        id: 1,
        name: 'slow',
        commands: {
          // Never answers on its own.
          0: () => {
            started.resolve();
            return new Promise<Uint8Array>(() => undefined);
          },
        },
        closed: (_connection, reason) => closedReasons.push((reason as IpcError).code),
      }),
    );
    const clients = await Promise.all([0, 1].map(() => backends.connectTo(test.address, 'slow')));
    const pending = clients[0]!.request(0).catch((error: IpcError) => error.code);
    await started.promise;
    const closing = test.server.close({ timeout: 600_000 });
    const destroying = test.server.destroy();
    await Promise.all([closing, destroying]);
    expect(await pending).toBe('ECONNRESET');
    expect(closedReasons).toEqual(['ECONNABORTED', 'ECONNABORTED']);
    expect(test.server.destroy()).toBe(destroying);
    await Promise.all(clients.map((client) => client.close()));
    await test.stop();
    expect(openFdCount()).toBe(fdsBefore);
  });
});
