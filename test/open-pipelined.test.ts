// A client made by openClient: requests written with the hello, over each transport on every poller pair.
import { describe, expect, it } from 'vitest';
import { IpcError, openClient, type IpcClient } from 'pollux';
import { CountingPoller } from './support/counting-poller.js';
import { scratchSocket, startServer } from './support/server.js';
import { transportMatrix, useBackends } from './support/backends.js';
import { useTestResources } from './support/test-resources.js';

describe.each(transportMatrix)('server on $server, clients on $client, over $transport', (pair) => {
  const { address, clientPoller, serverPoller, startServerOn, spawnFixture } = useBackends(pair);

  const resources = useTestResources();
  const { clients } = resources;

  function open(address: string, service: string | number): IpcClient {
    const client = openClient(address, service, { poller: clientPoller() });
    clients.push(client);
    return client;
  }

  /** Rejections of `promises`, by code; a request that resolved shows as 'resolved'. */
  function codes(promises: Promise<unknown>[]): Promise<string[]> {
    return Promise.all(
      promises.map((promise) =>
        promise.then(
          () => 'resolved',
          (error: unknown) => (error instanceof IpcError ? error.code : String(error)),
        ),
      ),
    );
  }

  it('answers requests made before the welcome in order, with the event the created hook sent first', async () => {
    const ran: string[] = [];
    resources.running = await startServerOn((server) =>
      server.addService({
        id: 4,
        name: 'echo',
        created: (connection) => connection.sendEvent(9, Buffer.from('hi')),
        commands: {
          1: (payload) => {
            ran.push(payload.toString());
            return payload;
          },
        },
      }),
    );
    const client = open(resources.running.address, 'echo');
    const seen: string[] = [];
    client.on('event', (event, payload) => seen.push(`event ${event} ${payload.toString()}`));
    expect(client.isOpen).toBe(false);
    const replies = ['a', 'b', 'c'].map((text) =>
      client.request(1, Buffer.from(text)).then((reply) => {
        seen.push(`reply ${reply.toString()}`);
        return reply.toString();
      }),
    );
    // Over 1 KiB: waits for the server's maximum, and keeps its place in line.
    const large = client.request(1, Buffer.alloc(2048, 'x')).then((reply) => reply.length);
    const after = client.request(1, Buffer.from('d')).then((reply) => reply.toString());
    expect(await Promise.all(replies)).toEqual(['a', 'b', 'c']);
    expect(await large).toBe(2048);
    expect(await after).toBe('d');
    await client.ready;
    expect(client.isOpen).toBe(true);
    expect(client.serviceName).toBe('echo');
    expect(seen).toEqual(['event 9 hi', 'reply a', 'reply b', 'reply c']);
    expect(ran).toEqual(['a', 'b', 'c', 'x'.repeat(2048), 'd']);
    await client.close();
    expect(resources.running.server.stats().services[0]).toMatchObject({ accepted: 1, requests: 5, responses: 5 });
  });

  it('serves a hello and requests that came before the accept in the turn that accepts it, the accept hook first', async () => {
    const poller = new CountingPoller(serverPoller());
    const order: string[] = [];
    /** Fds the poller had reported to the server when the request ran. */
    let reportedAtRequest: number[] = [];
    resources.running = await startServer(
      (server) =>
        server.addService({
          id: 1,
          name: 'echo',
          accept: () => {
            order.push('accept hook');
            return true;
          },
          commands: {
            1: (payload) => {
              order.push(`request ${payload.toString()}`);
              reportedAtRequest = [...poller.reported];
              return payload;
            },
          },
        }),
      { poller },
      address(''),
    );
    // The hello and the request are written before this turn ends, so before the server accepts.
    const client = open(resources.running.address, 'echo');
    const reply = client.request(1, Buffer.from('early'));
    expect((await reply).toString()).toBe('early');
    expect(order).toEqual(['accept hook', 'request early']);
    // Only the listening socket was reported: the connection was read as it was accepted.
    const [listener] = poller.added;
    expect(reportedAtRequest).toEqual([listener]);
    await client.close();
  });

  it('stops accepting, with no error, once a handler run at an accept closed the server', async () => {
    const errors: unknown[] = [];
    let closing: Promise<void> | undefined;
    resources.running = await startServerOn((server) => {
      server.on('error', (error) => errors.push(error));
      server.addService({
        id: 1,
        name: 'echo',
        commands: {
          1: (payload) => {
            closing ??= server.close();
            return payload;
          },
        },
      });
    });
    // Both connect before the server's turn: the second waits in the backlog behind the first.
    const requests = [open(resources.running.address, 'echo'), open(resources.running.address, 'echo')].map((client) =>
      client.request(1, Buffer.from('early')),
    );
    await codes(requests);
    await closing;
    expect(errors).toEqual([]);
    expect(resources.running.server.stats()).toMatchObject({ accepted: 1, connections: 0 });
  });

  it.each([
    ['an unknown service', 'nothing', 'ENXIO'],
    ['a service whose accept hook says no', 'guarded', 'EACCES'],
    ['a service whose accept hook names its code', 'picky', 'EPERM'],
  ])('fails every request made before the welcome when refused for %s, running none', async (_what, name, code) => {
    let handled = 0;
    const command = { 1: () => void handled++ };
    resources.running = await startServerOn((server) => {
      server.addService({ id: 1, name: 'guarded', accept: () => false, commands: command });
      server.addService({ id: 2, name: 'picky', accept: () => 'EPERM', commands: command });
    });
    const client = open(resources.running.address, name);
    const closed = new Promise<IpcError>((resolve) => client.once('close', resolve));
    const requests = [1, 2, 3].map(() => client.request(1, Buffer.from('early')));
    // One that waits for the welcome, over 1 KiB: refused too, never written.
    requests.push(client.request(1, Buffer.alloc(4096)));
    expect(await codes(requests)).toEqual([code, code, code, code]);
    await expect(client.ready).rejects.toMatchObject({ code });
    expect((await closed).code).toBe(code);
    expect(await codes([client.request(1)])).toEqual(['ENOTCONN']);
    expect(handled).toBe(0);
    expect(resources.running.server.stats()).toMatchObject({ connections: 0, refused: 1 });
  });

  it('fails every request made before the welcome with ECONNRESET when the server is killed in the handshake', async () => {
    const socket = scratchSocket();
    const server = spawnFixture('server', [address(socket.address)]);
    try {
      await server.next('listening');
      const client = open(address(socket.address), 'stall');
      const requests = [1, 2, 3].map(() => client.request(1, Buffer.from('early')));
      await server.next('accepting');
      server.child.kill('SIGKILL');
      expect(await codes(requests)).toEqual(['ECONNRESET', 'ECONNRESET', 'ECONNRESET']);
      await expect(client.ready).rejects.toMatchObject({ code: 'ECONNRESET' });
      await expect(requests[0]).rejects.toThrow(/may or may not have run/);
    } finally {
      server.child.kill('SIGKILL');
      await server.exited;
      socket.remove();
    }
  });

  it('fails the requests with the connect error when nothing listens', async () => {
    const socket = scratchSocket();
    try {
      const client = open(address(socket.address), 'echo');
      const requests = [client.request(1, Buffer.from('early')), client.ready];
      expect(await codes(requests)).toEqual(['ENOENT', 'ENOENT']);
    } finally {
      socket.remove();
    }
  });

  it('closes after the requests made before the welcome were answered, when closed at once', async () => {
    resources.running = await startServerOn((server) =>
      server.addService({ id: 1, name: 'echo', commands: { 1: (payload) => payload } }),
    );
    const client = open(resources.running.address, 'echo');
    const reply = client.request(1, Buffer.from('early'));
    await client.close();
    expect((await reply).toString()).toBe('early');
    expect(await codes([client.ready])).toEqual(['resolved']);
  });

  it('rejects the requests made before the welcome with the reason when destroyed while connecting', async () => {
    resources.running = await startServerOn((server) =>
      server.addService({ id: 1, name: 'echo', commands: { 1: (payload) => payload } }),
    );
    const client = open(resources.running.address, 'echo');
    const reply = client.request(1, Buffer.from('early'));
    const reason = new IpcError('ECANCELED', 'the test gave up');
    client.destroy(reason);
    await expect(reply).rejects.toBe(reason);
    await expect(client.ready).rejects.toMatchObject({ code: 'ECANCELED' });
  });
});
