import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServer, IpcError, type Connection } from 'pollux';
import { memfdMappingCount, openFdCount } from './support/fds.js';
import { deferred, type TestServer } from './support/server.js';
import { transportMatrix, useBackends } from './support/backends.js';

describe.each(transportMatrix)('server on $server, clients on $client, over $transport', (pair) => {
  const backends = useBackends(pair);
  const { connectTo, startServerOn, spawnFixture } = backends;

  let fdsBefore: number;
  let running: TestServer | undefined;

  beforeEach(() => {
    fdsBefore = openFdCount();
  });

  afterEach(async () => {
    await running?.stop();
    running = undefined;
    expect(openFdCount()).toBe(fdsBefore);
  });

  describe('a client that dies', () => {
    it('runs closed exactly once, then destroyed once its handlers finish, and leaks no fd', async () => {
      const hooks: string[] = [];
      const closed = deferred<Error>();
      const held: (() => void)[] = [];
      let session: Connection<{ pid: number }> | undefined;
      running = await startServerOn((server) =>
        server.addService<{ pid: number }>({
          id: 1,
          name: 'echo',
          createContext: (credentials) => ({ pid: credentials.pid }),
          created: (connection) => {
            session = connection;
            hooks.push('created');
          },
          closed: (connection, reason) => {
            hooks.push(`closed ${connection.context.pid}`);
            closed.resolve(reason);
          },
          destroyed: () => hooks.push('destroyed'),
          commands: {
            1: (payload) => payload,
            2: () => new Promise<void>((resolve) => held.push(resolve)),
          },
        }),
      );
      const fdsListening = openFdCount();
      const mappingsListening = memfdMappingCount();
      const peer = spawnFixture('client', ['hold', running.address, '25']);
      await peer.next('sent');
      expect(held.length).toBe(25);
      // The connection, and the pipe the fixture reports on.
      expect(openFdCount()).toBe(fdsListening + backends.fdsPerConnection + 1);
      expect(memfdMappingCount()).toBe(mappingsListening + backends.memfdMappingsPerConnection);
      peer.child.kill('SIGKILL');
      const reason = await closed.promise;
      expect(reason).toBeInstanceOf(IpcError);
      expect((reason as IpcError).code).toBe('ECONNRESET');
      expect(hooks).toEqual(['created', `closed ${peer.pid}`]);
      expect(session!.isOpen).toBe(false);
      expect(() => session!.sendEvent(1)).toThrowError(expect.objectContaining({ code: 'ENOTCONN' }));
      // Handlers still running when the client died finish into the void; then destroyed runs.
      for (const finish of held) finish();
      await new Promise((resolve) => setImmediate(resolve));
      expect(hooks).toEqual(['created', `closed ${peer.pid}`, 'destroyed']);
      await peer.exited;
      expect(openFdCount()).toBe(fdsListening);
      expect(memfdMappingCount()).toBe(mappingsListening);
      const stats = running.server.stats();
      expect(stats.connections).toBe(0);
      expect(stats.services[0]).toMatchObject({ accepted: 1, closed: 1, connections: 0 });
    });
  });

  describe('a server that dies', () => {
    it('rejects every pending request of every client with a connection error, and frees their fds and rings', async () => {
      const mappingsBefore = memfdMappingCount();
      const dir = mkdtempSync(join(tmpdir(), 'pollux-test-'));
      const address = backends.address(join(dir, 'server.sock'));
      try {
        const serverPeer = spawnFixture('server', [address]);
        await serverPeer.next('listening');
        const clients = await Promise.all([1, 2, 3].map(() => connectTo(address, 'echo')));
        const closes = clients.map((client) => new Promise<IpcError>((resolve) => client.once('close', resolve)));
        const pending = clients.flatMap((client) =>
          Array.from({ length: 40 }, () =>
            client.request(2).then(
              () => 'answered',
              (error: unknown) => error,
            ),
          ),
        );
        await Promise.all(clients.map((client) => client.request(1)));
        expect(clients.map((client) => client.pendingRequests)).toEqual([40, 40, 40]);
        expect(memfdMappingCount()).toBe(mappingsBefore + 3 * backends.memfdMappingsPerConnection);
        serverPeer.child.kill('SIGKILL');
        const outcomes = await Promise.all(pending);
        for (const outcome of outcomes) {
          expect(outcome).toBeInstanceOf(IpcError);
          expect((outcome as IpcError).code).toBe('ECONNRESET');
        }
        await Promise.all(closes);
        for (const client of clients) {
          expect(client.isOpen).toBe(false);
          await expect(client.request(1)).rejects.toMatchObject({ code: 'ENOTCONN' });
        }
        await serverPeer.exited;
        expect(openFdCount()).toBe(fdsBefore);
        expect(memfdMappingCount()).toBe(mappingsBefore);
        // The dead server's socket file is stale: a new server takes the address over.
        const restarted = await startServerAt(address);
        await restarted.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  async function startServerAt(address: string): Promise<{ close(): Promise<void> }> {
    const server = createServer({ poller: backends.serverPoller() });
    server.addService({ id: 1, name: 'echo', commands: { 1: (p) => p } });
    await server.listen(address);
    const client = await connectTo(address, 'echo');
    expect((await client.request(1, Buffer.from('back'))).toString()).toBe('back');
    await client.close();
    return server;
  }

  describe('admission by credentials', () => {
    it('refuses a client of another uid with EACCES, or with the code the hook returns', async () => {
      running = await startServerOn(
        (server) => {
          server.addService({ id: 1, name: 'root-only', accept: (credentials) => credentials.uid === 0, commands: {} });
          server.addService({
            id: 2,
            name: 'eperm',
            accept: (credentials) => (credentials.uid === 0 ? true : 'EPERM'),
            commands: {},
          });
        },
        { socket: { mode: 0o777 } },
      );
      const asNobody = { uid: 65534, gid: 65534 };
      const refused = spawnFixture('client', ['connect', running.address, 'root-only'], asNobody);
      const eperm = spawnFixture('client', ['connect', running.address, 'eperm'], asNobody);
      const admitted = spawnFixture('client', ['connect', running.address, 'root-only']);
      expect(await refused.next('refused')).toMatchObject({ code: 'EACCES', isIpcError: true });
      expect(await eperm.next('refused')).toMatchObject({ code: 'EPERM', isIpcError: true });
      expect(await admitted.next('connected')).toMatchObject({ service: 'root-only' });
      await Promise.all([refused.exited, eperm.exited, admitted.exited]);
      const stats = running.server.stats();
      expect(stats.refused).toBe(2);
      expect(stats.accepted).toBe(1);
      expect(stats.services.map((s) => s.refused)).toEqual([1, 1]);
    });
  });
});
