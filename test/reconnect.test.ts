import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  IpcError,
  AddressTransport,
  type IpcClient,
  type IpcServer,
  type ServiceDefinition,
  type Transport,
} from 'pollux';
import { transportMatrix, useBackends } from './support/backends.js';
import { nextEvent } from './support/client-events.js';
import { openFdCount } from './support/fds.js';
import { deferred, scratchSocket, until, type ScratchSocket } from './support/server.js';

/** Fast retries, so a test waits for the restart, not for the backoff. */
const quickly = { initialDelay: 5, maxDelay: 20 };

const echo: ServiceDefinition = { id: 1, name: 'echo', commands: { 1: (payload) => payload } };

/** The default transport (sockets, or shared memory for `shm:` addresses), counting its connection attempts. */
function countingTransport(): Transport & { attempts: number } {
  const inner = new AddressTransport();
  const transport = {
    attempts: 0,
    listen: (address: string) => inner.listen(address),
    connect: (address: string) => {
      transport.attempts++;
      return inner.connect(address);
    },
  };
  return transport;
}

describe.each(transportMatrix)('server on $server, clients on $client, over $transport', (pair) => {
  const backends = useBackends(pair);
  const { connectTo, listenOn, spawnFixture } = backends;

  let fdsBefore: number;
  let socket: ScratchSocket;
  /** The socket's path as an address of the transport under test. */
  let address: string;
  let servers: IpcServer[];
  let clients: IpcClient[];

  beforeEach(() => {
    fdsBefore = openFdCount();
    socket = scratchSocket();
    address = backends.address(socket.address);
    servers = [];
    clients = [];
  });

  afterEach(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await Promise.all(servers.map((server) => server.close()));
    socket.remove();
    expect(openFdCount()).toBe(fdsBefore);
  });

  async function serve(...services: ServiceDefinition[]): Promise<IpcServer> {
    const server = await listenOn(address, (s) => {
      for (const service of services) s.addService(service);
    });
    servers.push(server);
    return server;
  }

  async function client(options: Parameters<typeof connectTo>[2] = {}): Promise<IpcClient> {
    const c = await connectTo(address, 'echo', options);
    clients.push(c);
    return c;
  }

  /** Closes the server on purpose: its clients see ESHUTDOWN and, with reconnect, start over. */
  async function stopServer(): Promise<void> {
    await servers.pop()!.close();
  }

  describe('a server that goes away and comes back', () => {
    it('SIGKILL: rejects every pending request with ECONNRESET, and all 50 clients serve again once the server is back', async () => {
      const first = spawnFixture('server', [address]);
      await first.next('listening');
      const fleet = await Promise.all(Array.from({ length: 50 }, () => client({ reconnect: true })));
      const disconnects = fleet.map((c) => nextEvent(c, 'disconnect'));
      const pending = fleet.flatMap((c) =>
        [0, 1, 2].map(() =>
          c.request(2).then(
            () => 'answered',
            (error: unknown) => error,
          ),
        ),
      );
      // Once each echo is back, the server holds every client's three requests.
      await Promise.all(fleet.map((c) => c.request(1)));

      first.child.kill('SIGKILL');
      const outcomes = await Promise.all(pending);
      for (const outcome of outcomes) expect(outcome).toMatchObject({ code: 'ECONNRESET' });
      expect(outcomes[0]).toBeInstanceOf(IpcError);
      for (const [reason] of await Promise.all(disconnects)) expect(reason.code).toBe('ECONNRESET');
      await first.exited;

      const reconnects = fleet.map((c) => nextEvent(c, 'reconnect'));
      const second = spawnFixture('server', [address]);
      const restarted = await second.next('listening');
      await Promise.all(
        fleet.map(async (c, i) => {
          await reconnects[i];
          expect((await c.request(1, Buffer.from(`client ${i}`))).toString()).toBe(`client ${i}`);
        }),
      );
      for (const c of fleet) {
        expect(c.serverCredentials.pid).toBe(restarted['pid']);
        expect(c.stats).toMatchObject({ reconnects: 1, requests: 5, responses: 2 });
      }
      await Promise.all(clients.splice(0).map((c) => c.close()));
      second.child.kill('SIGKILL');
      await second.exited;
    });

    it('lets a process that dropped its reconnecting client exit, and keeps one with a queued request alive until it is answered', async () => {
      await serve(echo);
      const dropped = spawnFixture('reconnecting-client', ['drop', address]);
      const waiting = spawnFixture('reconnecting-client', ['queue', address]);
      await Promise.all([dropped.next('connected'), waiting.next('connected')]);
      await stopServer();
      await Promise.all([dropped.next('disconnected'), waiting.next('queued')]);
      expect(await dropped.exited).toEqual({ code: 0, signal: null });
      await serve(echo);
      expect(await waiting.next('answered')).toMatchObject({ payload: 'after restart' });
      expect(await waiting.exited).toEqual({ code: 0, signal: null });
    });
  });

  describe('connecting before the server is up', () => {
    it('waits for the server with retry, where a plain connect fails at once', async () => {
      await expect(connectTo(address, 'echo')).rejects.toMatchObject({ code: 'ENOENT' });
      const transport = countingTransport();
      const connecting = connectTo(address, 'echo', { transport, retry: quickly });
      await until(() => transport.attempts >= 3);
      await serve(echo);
      const c = await connecting;
      clients.push(c);
      expect((await c.request(1, Buffer.from('up'))).toString()).toBe('up');
    });

    it('gives up at the deadline with ETIMEDOUT and the last error as cause, and on abort with ECANCELED', async () => {
      const late = await connectTo(address, 'echo', { retry: { ...quickly, deadline: 100 } }).catch(
        (error: unknown) => error,
      );
      expect(late).toMatchObject({ code: 'ETIMEDOUT', cause: { code: 'ENOENT' } });
      expect((late as Error).message).toMatch(/within 100 ms/);

      const transport = countingTransport();
      const abort = new AbortController();
      const connecting = connectTo(address, 'echo', { transport, retry: quickly, signal: abort.signal });
      await until(() => transport.attempts >= 2);
      abort.abort();
      await expect(connecting).rejects.toMatchObject({ code: 'ECANCELED' });
    });

    it('does not retry a refusal: an unknown service fails at the first attempt with ENXIO', async () => {
      await serve(echo);
      const transport = countingTransport();
      await expect(
        connectTo(address, 'nope', { transport, retry: { ...quickly, deadline: Infinity } }),
      ).rejects.toMatchObject({ code: 'ENXIO' });
      expect(transport.attempts).toBe(1);
    });

    it('waits for a service the server has not registered yet with waitForService, until its deadline', async () => {
      const server = await serve();
      await expect(
        connectTo(address, 'echo', { retry: { ...quickly, deadline: 50, waitForService: true } }),
      ).rejects.toMatchObject({
        code: 'ETIMEDOUT',
        cause: { code: 'ENXIO' },
      });
      const transport = countingTransport();
      const connecting = connectTo(address, 'echo', { transport, retry: { ...quickly, waitForService: true } });
      await until(() => transport.attempts >= 3);
      server.addService(echo);
      const c = await connecting;
      clients.push(c);
      expect((await c.request(1, Buffer.from('registered late'))).toString()).toBe('registered late');
    });
  });

  describe('requests while reconnecting', () => {
    it('rejects at once by default, or queues them in order, bounded, each honouring its timeout', async () => {
      const seen: string[] = [];
      const recording: ServiceDefinition = {
        ...echo,
        commands: {
          1: (payload) => {
            seen.push(payload.toString());
            return payload;
          },
        },
      };
      await serve(recording);
      const rejecting = await client({ reconnect: quickly });
      const queueing = await client({ reconnect: quickly, whileDisconnected: 'queue', queueLimit: 3 });
      const disconnected = Promise.all([nextEvent(rejecting, 'disconnect'), nextEvent(queueing, 'disconnect')]);
      await stopServer();
      for (const [reason] of await disconnected) expect(reason.code).toBe('ESHUTDOWN');
      expect(rejecting.isOpen).toBe(false);

      await expect(rejecting.request(1)).rejects.toMatchObject({ code: 'ENOTCONN' });
      const first = queueing.request(1, Buffer.from('first'));
      const expiring = queueing.request(1, Buffer.from('expiring'), { timeout: 20 });
      const last = queueing.request(1, Buffer.from('last'));
      await expect(queueing.request(1, Buffer.from('over'))).rejects.toMatchObject({ code: 'EAGAIN' });
      await expect(expiring).rejects.toMatchObject({ code: 'ETIMEDOUT' });
      expect(queueing.queuedRequests).toBe(2);

      const reconnected = nextEvent(queueing, 'reconnect');
      await serve(recording);
      await reconnected;
      expect((await first).toString()).toBe('first');
      expect((await last).toString()).toBe('last');
      expect(seen).toEqual(['first', 'last']);
      expect(queueing.queuedRequests).toBe(0);
      await until(() => rejecting.isOpen);
      expect((await rejecting.request(1, Buffer.from('again'))).toString()).toBe('again');
    });

    it('rejects queued requests with ESHUTDOWN and stops reconnecting when closed', async () => {
      await serve(echo);
      const transport = countingTransport();
      const c = await client({ transport, reconnect: quickly, whileDisconnected: 'queue' });
      const closes: IpcError[] = [];
      c.on('close', (reason) => closes.push(reason));
      const disconnected = nextEvent(c, 'disconnect');
      await stopServer();
      await disconnected;
      const queued = c.request(1);
      await until(() => transport.attempts >= 3);
      await c.close();
      await expect(queued).rejects.toMatchObject({ code: 'ESHUTDOWN' });
      expect(closes.map((r) => r.code)).toEqual(['ECONNABORTED']);
      const attempts = transport.attempts;
      await serve(echo);
      // The server is up: a client still reconnecting would get through now.
      const probe = await client();
      await probe.request(1);
      expect(transport.attempts).toBe(attempts);
      expect(c.isOpen).toBe(false);
      await expect(c.request(1)).rejects.toMatchObject({ code: 'ESHUTDOWN' });
    });
  });

  describe('giving up', () => {
    it('closes with the refusal when the restarted server lacks the service, and with ETIMEDOUT past the deadline', async () => {
      await serve(echo);
      const refused = await client({ reconnect: quickly, whileDisconnected: 'queue' });
      const expired = await client({ reconnect: { ...quickly, deadline: 50 } });
      const [refusedCloses, expiredCloses] = [nextEvent(refused, 'close'), nextEvent(expired, 'close')];
      const disconnected = nextEvent(refused, 'disconnect');
      await stopServer();
      await disconnected;
      const queued = refused.request(1);
      const [timedOut] = await expiredCloses!;
      expect(timedOut).toMatchObject({
        code: 'ETIMEDOUT',
        cause: { code: expect.stringMatching(/^(ENOENT|ECONNREFUSED)$/) },
      });
      await serve({ ...echo, id: 2, name: 'other' });
      const [refusal] = await refusedCloses!;
      expect(refusal.code).toBe('ENXIO');
      await expect(queued).rejects.toMatchObject({ code: 'ENXIO' });
      for (const c of [refused, expired]) {
        expect(c.isOpen).toBe(false);
        await expect(c.request(1)).rejects.toMatchObject({ code: 'ENOTCONN' });
      }
    });
  });

  describe('late responses and counters across reconnects', () => {
    it('discards and counts a late response, and keeps counting on the next connection', async () => {
      const gates: ((value: Buffer) => void)[] = [];
      const gated: ServiceDefinition = {
        ...echo,
        commands: {
          0: () => {
            const gate = deferred<Buffer>();
            gates.push(gate.resolve);
            return gate.promise;
          },
          1: (payload) => payload,
        },
      };
      await serve(gated);
      const c = await client({ reconnect: quickly });
      await expect(c.request(0, undefined, { timeout: 20 })).rejects.toMatchObject({ code: 'ETIMEDOUT' });
      const abort = new AbortController();
      const cancelled = c.request(0, undefined, { signal: abort.signal });
      abort.abort();
      await expect(cancelled).rejects.toMatchObject({ code: 'ECANCELED' });
      await c.request(1);
      for (const open of gates.splice(0)) open(Buffer.from('late'));
      await until(() => c.stats.lateResponses === 2);

      // In flight when the server goes: rejected, and never sent again to the next server.
      const inFlight = c.request(0);
      await until(() => gates.length === 1);
      const reconnected = nextEvent(c, 'reconnect');
      await stopServer();
      await expect(inFlight).rejects.toMatchObject({ code: 'ECONNRESET' });
      gates[0]!(Buffer.from('to a connection that is gone'));
      const next = await serve(gated);
      await reconnected;
      expect((await c.request(1, Buffer.from('fresh'))).toString()).toBe('fresh');
      expect(next.stats().services[0]!.requests).toBe(1);
      expect(c.stats).toMatchObject({ requests: 5, responses: 2, lateResponses: 2, reconnects: 1 });
    });
  });

  describe('closing with a deadline', () => {
    it('rejects what is still pending with ETIMEDOUT once the deadline passes, and ends the connection', async () => {
      const disconnected = deferred<Error>();
      await serve({
        ...echo,
        commands: { 2: () => new Promise<void>(() => {}) },
        closed: (_connection, reason) => disconnected.resolve(reason),
      });
      const c = await client();
      const stuck = c.request(2);
      const closedAt = performance.now();
      await c.close({ timeout: 50 });
      expect(performance.now() - closedAt).toBeGreaterThanOrEqual(40);
      await expect(stuck).rejects.toMatchObject({ code: 'ETIMEDOUT' });
      expect((await disconnected.promise) as IpcError).toMatchObject({ code: 'ESHUTDOWN' });
    });
  });
});
