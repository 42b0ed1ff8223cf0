import { createServer as createNetServer } from 'node:net';
import { contractEvents, implementContract, IpcError, type Connection, type HostedService } from 'pollux';
import { describe, expect, it } from 'vitest';
import { serverBackendMatrix, useBackends } from './support/backends.js';
import { openFdCount } from './support/fds.js';
import { spawnPeer } from './support/peer.js';
import { notes } from './support/notes-contract.js';
import { frame, welcome } from './support/frames.js';
import { deferred, scratchSocket } from './support/server.js';

describe.each(serverBackendMatrix)('synchronous client, server on $server', (pair) => {
  const backends = useBackends(pair);

  it('serves a process that never returns to the event loop: requests, queued events, typed errors, timeouts', async () => {
    const fdsBefore = openFdCount();
    let parked = deferred<Buffer>();
    const closedReasons: string[] = [];
    const test = await backends.startServerOn(
      (server) => {
        server.addService({
          id: 7,
          name: 'sync',
          commands: {
            0: (payload) => payload,
            1: (payload, connection: Connection) => {
              for (let i = 1; i <= Number(payload.toString()); i++) connection.sendEvent(10, Buffer.from(`tick ${i}`));
              return Buffer.from('burst done');
            },
            2: () => {
              throw new IpcError('EPERM', 'not allowed here');
            },
            3: () => parked.promise,
            4: () => {
              parked.resolve(Buffer.from('late'));
              parked = deferred<Buffer>();
              return Buffer.from('released');
            },
            5: (_payload, connection: Connection) => {
              setImmediate(() => connection.sendEvent(11, Buffer.from('later')));
            },
            6: (_payload, connection: Connection) => connection.close(),
          },
          closed: (_connection, reason) => closedReasons.push((reason as IpcError).code),
        });
      },
      { maxMessageSize: 64 * 1024 },
    );
    const fixture = spawnPeer('sync-client', ['session', test.address]);
    const result = await fixture.next('session');
    expect(result).toMatchObject({
      echoes: 200,
      burstAnswer: 'burst done',
      queuedAfterBurst: 5,
      burstEvents: ['10:tick 1', '10:tick 2', '10:tick 3', '10:tick 4', '10:tick 5'],
      failed: 'EPERM',
      unknown: 'ENOSYS',
      oversize: 'EMSGSIZE',
      parked: 'ETIMEDOUT',
      released: 'released',
      afterLate: 'after late',
      later: '11:later',
      hangup: 'ECONNRESET',
      afterHangup: 'ENOTCONN',
      stats: { requests: 208, responses: 206, lateResponses: 1, events: 6, droppedEvents: 0 },
      fdsLeaked: 0,
      loopTurned: false,
    });
    expect((await fixture.exited).code).toBe(0);
    expect(closedReasons).toEqual(['ECONNABORTED']);
    await test.stop();
    expect(openFdCount()).toBe(fdsBefore);
  });

  it('makes typed calls through a contract, and sees typed events', async () => {
    const events = contractEvents(notes);
    let service!: HostedService;
    const test = await backends.startServerOn((server) => {
      service = server.addService(
        implementContract(notes, {
          handlers: {
            put: (note) => {
              service.broadcast(...events.stored({ title: note.title, by: 1 }));
              return 1;
            },
            get: (title) => ({ title, body: 'from the server' }),
            histogram: () => new Map([[4, 1]]),
          },
        }),
      );
    });
    const fixture = spawnPeer('sync-client', ['contract', test.address]);
    expect(await fixture.next('contract')).toEqual({
      type: 'contract',
      count: 1,
      note: { title: 'sync', body: 'from the server' },
      histogram: [[4, 1]],
      event: { name: 'stored', payload: { title: 'sync', by: 1 } },
      badRequest: 'EBADMSG',
      fdsLeaked: 0,
      loopTurned: false,
    });
    expect((await fixture.exited).code).toBe(0);
    await test.stop();
  });

  it('fails to connect with typed errors, without turning the loop', async () => {
    const test = await backends.startServerOn((server) => server.addService({ id: 7, name: 'sync', commands: {} }));
    const fixture = spawnPeer('sync-client', ['connect-errors', test.address]);
    expect(await fixture.next('connect-errors')).toMatchObject({
      unknownService: 'ENXIO',
      noServer: 'ENOENT',
      badService: 'EINVAL',
      fdsLeaked: 0,
      loopTurned: false,
    });
    expect((await fixture.exited).code).toBe(0);
    await test.stop();
  });
});

describe('synchronous client handshake', () => {
  it('times out with ETIMEDOUT when the server accepts but never answers', async () => {
    const socket = scratchSocket();
    const silent = createNetServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(socket.address, resolve));
    const fixture = spawnPeer('sync-client', ['silent-server', socket.address]);
    expect(await fixture.next('silent-server')).toEqual({
      type: 'silent-server',
      handshake: 'ETIMEDOUT',
      fdsLeaked: 0,
      loopTurned: false,
    });
    await fixture.exited;
    silent.close();
    socket.remove();
  });
});

describe('synchronous client against a hostile server', () => {
  /** A server that answers each chunk the client sends with the next of `replies`. */
  async function scripted(replies: Buffer[], run: (address: string) => Promise<void>): Promise<void> {
    const socket = scratchSocket();
    const server = createNetServer((connection) => {
      connection.on('error', () => undefined);
      connection.on('data', () => {
        const reply = replies.shift();
        if (reply !== undefined) connection.write(reply);
      });
    });
    await new Promise<void>((resolve) => server.listen(socket.address, resolve));
    try {
      await run(socket.address);
    } finally {
      server.close();
      socket.remove();
    }
  }

  it('ends with EPROTO on a malformed frame after the handshake, and the request fails as lost', async () => {
    await scripted([welcome(1024, 7, 'sync'), frame(99, 0, 1)], async (address) => {
      const fixture = spawnPeer('sync-client', ['hostile-server', address]);
      const result = await fixture.next('hostile-server');
      expect(result).toEqual({
        type: 'hostile-server',
        handshake: 'ok',
        request: 'ECONNRESET',
        after: 'ENOTCONN',
        fdsLeaked: 0,
        loopTurned: false,
      });
      await fixture.exited;
    });
  });

  it('fails the handshake with EPROTO when the server answers with bytes that are no frame', async () => {
    await scripted([Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n')], async (address) => {
      const fixture = spawnPeer('sync-client', ['garbage-server', address]);
      expect(await fixture.next('garbage-server')).toEqual({
        type: 'garbage-server',
        handshake: 'EPROTO',
        fdsLeaked: 0,
        loopTurned: false,
      });
      await fixture.exited;
    });
  });
});
