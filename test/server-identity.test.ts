import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IpcClient, IpcServer, ServiceDefinition } from 'pollux';
import { backendMatrix, useBackends } from './support/backends.js';
import { nextEvent } from './support/client-events.js';
import { openFdCount } from './support/fds.js';
import type { Peer } from './support/peer.js';
import { deferred } from './support/server.js';

/** Fast retries, so a test waits for the restart, not for the backoff. */
const quickly = { initialDelay: 5, maxDelay: 20 };
const asNobody = { uid: 65534, gid: 65534 };
const ourUid = process.getuid!();
let addresses = 0;

/** An echo service that records what it is asked and how its connections end. */
function recordingEcho(): { service: ServiceDefinition; seen: string[]; closed: Promise<Error> } {
  const seen: string[] = [];
  const closed = deferred<Error>();
  const service: ServiceDefinition = {
    id: 1,
    name: 'echo',
    commands: {
      1: (payload) => {
        seen.push(payload.toString());
        return payload;
      },
    },
    closed: (_connection, reason) => closed.resolve(reason),
  };
  return { service, seen, closed: closed.promise };
}

describe.each(backendMatrix)('server on $server, clients on $client', (pair) => {
  const { connectTo, listenOn, spawnFixture } = useBackends(pair);

  let fdsBefore: number;
  let address: string;
  let peers: Peer[];
  let servers: IpcServer[];
  let clients: IpcClient[];

  beforeEach(() => {
    fdsBefore = openFdCount();
    // An abstract name: the kind any process may bind once its holder is gone.
    address = `@pollux-test-identity-${process.pid}-${addresses++}`;
    peers = [];
    servers = [];
    clients = [];
  });

  afterEach(async () => {
    await Promise.all(clients.map((client) => client.close()));
    for (const peer of peers) peer.child.kill('SIGKILL');
    await Promise.all(peers.map((peer) => peer.exited));
    await Promise.all(servers.map((server) => server.close()));
    expect(openFdCount()).toBe(fdsBefore);
  });

  function spawn(fixture: string, options: { uid?: number; gid?: number } = {}): Peer {
    const peer = spawnFixture(fixture, [address], options);
    peers.push(peer);
    return peer;
  }

  async function client(options: Parameters<typeof connectTo>[2] = {}): Promise<IpcClient> {
    const c = await connectTo(address, 'echo', options);
    clients.push(c);
    return c;
  }

  describe('a server that restarts while another uid takes its name', () => {
    it('writes nothing to the squatter, then takes its queued request to the real server once it is back', async () => {
      const first = spawn('server');
      await first.next('listening');
      const c = await client({ reconnect: quickly, whileDisconnected: 'queue' });
      const disconnected = nextEvent(c, 'disconnect');
      first.child.kill('SIGKILL');
      await disconnected;
      const token = c.request(1, Buffer.from('token s3cret'));

      const squatter = spawn('squatter', asNobody);
      expect(await squatter.next('listening')).toMatchObject({ uid: 65534 });
      const welcomedBySquatter = nextEvent(c, 'reconnect').then(() => 'reconnected to the squatter');
      // The client connects, sees the uid and hangs up without a byte, again and again.
      expect(await Promise.race([squatter.next('closed'), welcomedBySquatter])).toEqual({ type: 'closed', bytes: 0 });
      expect(c.queuedRequests).toBe(1);

      squatter.child.kill('SIGKILL');
      await squatter.exited;
      const second = spawn('server');
      const restarted = await second.next('listening');
      expect((await token).toString()).toBe('token s3cret');
      expect(c.serverCredentials).toMatchObject({ pid: restarted['pid'], uid: ourUid });
    });

    it('checks the first server too when expectServer says who it must be, before writing the hello', async () => {
      const squatter = spawn('squatter', asNobody);
      await squatter.next('listening');
      await expect(client({ expectServer: { uid: ourUid } })).rejects.toMatchObject({
        code: 'EPERM',
        message: expect.stringContaining('uid 65534'),
      });
      expect(await squatter.next('closed')).toMatchObject({ bytes: 0 });
      await expect(
        client({ expectServer: { uid: ourUid }, retry: { ...quickly, deadline: 100 } }),
      ).rejects.toMatchObject({
        code: 'ETIMEDOUT',
        cause: { code: 'EPERM' },
      });
      await expect(client({ expectServer: () => false })).rejects.toMatchObject({ code: 'EPERM' });
      const broken = (): boolean => {
        throw new Error('a bug in the check');
      };
      await expect(client({ expectServer: broken })).rejects.toMatchObject({
        code: 'EPERM',
        cause: { message: 'a bug in the check' },
      });

      const trusting = await client({
        expectServer: (credentials) => credentials.uid === 65534 && credentials.gid === 65534,
      });
      expect(trusting.serverCredentials.uid).toBe(65534);
    });
  });

  describe('destroy()', () => {
    it('called from the reconnect listener, writes none of the queued requests', async () => {
      servers.push(await listenOn(address, (s) => s.addService(recordingEcho().service)));
      const c = await client({ reconnect: quickly, whileDisconnected: 'queue' });
      const disconnected = nextEvent(c, 'disconnect');
      await servers.pop()!.close();
      await disconnected;
      const queued = c.request(1, Buffer.from('token'));
      c.once('reconnect', () => c.destroy());

      const next = recordingEcho();
      servers.push(await listenOn(address, (s) => s.addService(next.service)));
      await expect(queued).rejects.toMatchObject({ code: 'ECONNABORTED' });
      // No goodbye either: the server sees the connection drop, and no request.
      expect(await next.closed).toMatchObject({ code: 'ECONNRESET' });
      expect(next.seen).toEqual([]);
    });

    it('writes nothing, not even a request made just before', async () => {
      const echo = recordingEcho();
      servers.push(await listenOn(address, (s) => s.addService(echo.service)));
      const c = await client();
      const request = c.request(1, Buffer.from('token'));
      c.destroy();
      await expect(request).rejects.toMatchObject({ code: 'ECONNABORTED' });
      expect(await echo.closed).toMatchObject({ code: 'ECONNRESET' });
      expect(echo.seen).toEqual([]);
    });
  });
});
