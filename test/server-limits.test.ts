import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  fetchConnections,
  fetchServerStats,
  INTROSPECTION_SERVICE_NAME,
  IpcError,
  IpcServer,
  SocketTransport,
  type Connection,
  type IpcServerOptions,
  type CreateServerOptions,
  type IpcClient,
} from 'pollux';
import { openFdCount } from './support/fds.js';
import { frame, hello } from './support/frames.js';
import { rawSocket, type RawSocket } from './support/raw-socket.js';
import { until, type TestServer } from './support/server.js';
import { transportMatrix, useBackends } from './support/backends.js';

describe.each(transportMatrix)('server on $server, clients on $client, over $transport', (pair) => {
  const { connectTo, startServerOn, spawnFixture, serverPoller } = useBackends(pair);

  let fdsBefore: number;
  let running: TestServer | undefined;
  const clients: IpcClient[] = [];
  /** Resolvers of the `hold` command's handlers, in arrival order. */
  let held: (() => void)[];
  /** The reasons the echo service's `closed` hook saw, in order. */
  let closings: IpcError[];
  /** Raw sockets the test opened; destroyed after it. */
  const raws: RawSocket[] = [];

  beforeEach(() => {
    fdsBefore = openFdCount();
    held = [];
    closings = [];
  });

  afterEach(async () => {
    for (const raw of raws.splice(0)) {
      raw.socket.destroy();
      await raw.closed;
    }
    for (const client of clients.splice(0)) client.destroy();
    for (const release of held) release();
    await running?.stop();
    running = undefined;
    expect(openFdCount()).toBe(fdsBefore);
  });

  const HOLD = 2;

  /** A server with an `echo` service: command 1 echoes, command 2 answers when the test releases it. */
  async function serve(
    options: CreateServerOptions,
    configure: (server: IpcServer) => void = () => undefined,
  ): Promise<TestServer> {
    running = await startServerOn((server) => {
      server.addService({
        id: 1,
        name: 'echo',
        commands: {
          1: (payload) => payload,
          [HOLD]: (payload) => new Promise<Uint8Array>((resolve) => held.push(() => resolve(payload))),
        },
        closed: (_connection, reason) => closings.push(reason as IpcError),
      });
      configure(server);
    }, options);
    return running;
  }

  async function client(service: string | number = 'echo'): Promise<IpcClient> {
    const c = await connectTo(running!.address, service);
    clients.push(c);
    return c;
  }

  /** One round trip on another connection: the server has run past everything queued before it. */
  async function roundTrip(): Promise<void> {
    const probe = await client();
    expect((await probe.request(1, Buffer.from('probe'))).toString()).toBe('probe');
  }

  describe('connection cap', () => {
    it('refuses a connection over maxConnections with EAGAIN, and admits again once one closes', async () => {
      await serve({ maxConnections: 2 });
      const first = await client();
      await client();
      const refusal = await connectTo(running!.address, 'echo').catch((error: unknown) => error);
      expect(refusal).toBeInstanceOf(IpcError);
      expect(refusal).toMatchObject({ code: 'EAGAIN', message: expect.stringContaining('limit of 2 connections') });
      expect(running!.server.stats()).toMatchObject({ refusedOverCapacity: 1, accepted: 2 });
      await first.close();
      await until(() => running!.server.stats().connections === 1);
      await client();
    });

    it('lets a client with retry wait for a free slot: a full server is worth trying again', async () => {
      await serve({ maxConnections: 1 });
      const first = await client();
      const waiting = connectTo(running!.address, 'echo', {
        retry: { initialDelay: 5, maxDelay: 20, deadline: 30_000 },
      });
      await until(() => running!.server.stats().refusedOverCapacity >= 1);
      await first.close();
      const second = await waiting;
      clients.push(second);
      expect((await second.request(1, Buffer.from('admitted'))).toString()).toBe('admitted');
    });
  });

  /** A raw socket that connects and never says hello. */
  async function silent(): Promise<RawSocket> {
    const raw = rawSocket(running!.path);
    raws.push(raw);
    await raw.connected;
    return raw;
  }

  describe('one user cannot take every slot', () => {
    it('refuses a uid over maxConnectionsPerUid with EAGAIN, and still admits another uid', async () => {
      await serve({ maxConnections: 6, maxConnectionsPerUid: 3, socket: { mode: 0o666 } });
      for (let i = 0; i < 3; i++) await silent();
      await until(() => running!.server.stats().connections === 3);
      const refusal = await connectTo(running!.address, 'echo').catch((error: unknown) => error);
      expect(refusal).toBeInstanceOf(IpcError);
      expect(refusal).toMatchObject({
        code: 'EAGAIN',
        message: expect.stringContaining(`uid ${process.getuid!()} has reached`),
      });
      const other = spawnFixture('client', ['connect', running!.address, 'echo'], { uid: 65534, gid: 65534 });
      expect(await other.next('connected')).toMatchObject({ service: 'echo' });
      await other.exited;
      // The silent ones leave: their uid gets its slots back.
      for (const raw of raws.splice(0)) raw.socket.destroy();
      await until(() => running!.server.stats().connections === 0);
      await client();
    });

    it('still refuses with EAGAIN, not a bare reset, once the refusals waiting for a hello are at their bound', async () => {
      await serve({ maxConnections: 1 });
      // One holds the only slot and 64 more wait to be refused; none ever says hello.
      for (let i = 0; i < 65; i++) await silent();
      await until(() => running!.server.stats().connections === 65);
      const refusal = await connectTo(running!.address, 'echo').catch((error: unknown) => error);
      expect(refusal).toMatchObject({ code: 'EAGAIN', message: expect.stringContaining('limit of 1 connections') });
    });
  });

  describe('while the server stops reading requests', () => {
    /** Ways to make the whole server stop reading; each returns how to undo it. */
    const stops: Record<string, { options: CreateServerOptions; stop(): Promise<() => void> }> = {
      'server.pauseRequests()': {
        options: {},
        stop: async () => {
          running!.server.pauseRequests();
          return () => running!.server.resumeRequests();
        },
      },
      'the server-wide maxInFlight': {
        options: { maxInFlight: 1 },
        stop: async () => {
          const first = await client();
          // Answered once released, or cut short by the clean-up when the newcomer's answer comes first.
          first.request(HOLD).catch(() => undefined);
          await until(() => held.length === 1);
          return () => held[0]!();
        },
      },
      'the serverRequestRate': {
        // The second request runs on credit; reading stops after it until the debt is paid, 4 s
        // later: the window the checks below need, on a loaded machine too.
        options: { serverRequestRate: { perSecond: 0.25, burst: 1 } },
        stop: async () => {
          const first = await client();
          await first.request(1);
          await first.request(1);
          // Reading resumes by itself once the debt is paid.
          return () => undefined;
        },
      },
    };

    it.each(Object.keys(stops))(
      'lets a newcomer complete its handshake under %s and serves it afterwards',
      async (name) => {
        const { options, stop } = stops[name]!;
        await serve(options);
        const errors: IpcError[] = [];
        running!.server.on('error', (error) => errors.push(error));
        const resume = await stop();
        expect(running!.server.stats().readPaused).toBe(true);
        const newcomer = await client();
        const reply = newcomer.request(1, Buffer.from('after the stop'));
        await until(() =>
          running!.server.connections().some((info) => info.stats.readPaused && info.stats.requests === 0),
        );
        resume();
        expect((await reply).toString()).toBe('after the stop');
        expect(errors).toEqual([]);
      },
    );
  });

  describe('a peer that dies while reading from it is paused', () => {
    /** Ways to stop reading one connection, set up once its client is connected. */
    const pauses: Record<
      string,
      { options: CreateServerOptions; pause(connection: Connection<unknown>): Promise<void> }
    > = {
      'its maxInFlightPerConnection': {
        options: { maxInFlightPerConnection: 2 },
        pause: () => until(() => held.length === 2),
      },
      'its requestRate': {
        options: { requestRate: { perSecond: 0.001, burst: 1 } },
        // The request that spends the last token still runs; reading stops after it.
        pause: () => until(() => held.length === 2),
      },
      'connection.pauseRequests()': {
        options: {},
        pause: async (connection) => connection.pauseRequests(),
      },
      'server.pauseRequests()': {
        options: {},
        pause: async () => running!.server.pauseRequests(),
      },
      'the server-wide maxInFlight': {
        options: { maxInFlight: 2 },
        pause: () => until(() => held.length === 2),
      },
    };

    it.each(Object.keys(pauses))('is noticed under %s: closed runs and its slot and fd are freed', async (name) => {
      const { options, pause } = pauses[name]!;
      await serve(options);
      const opened = new Promise<Connection<unknown>>((resolve) => running!.server.once('connection', resolve));
      const peer = spawnFixture('client', ['hold', running!.address, '4']);
      await pause(await opened);
      peer.child.kill('SIGKILL');
      await peer.exited;
      await until(() => closings.length === 1);
      expect(closings[0]!.code).toBe('ECONNRESET');
      await until(() => running!.server.stats().connections === 0);
    });

    it('reads the goodbye of a client that closes while reading from it is paused: closed sees ESHUTDOWN, not a crash', async () => {
      await serve({});
      const opened = new Promise<Connection<unknown>>((resolve) => running!.server.once('connection', resolve));
      const c = await client();
      (await opened).pauseRequests();
      await c.close();
      await until(() => closings.length === 1);
      expect(closings[0]!.code).toBe('ESHUTDOWN');
      expect(running!.server.stats().connections).toBe(0);
    });

    it('keeps serving a client that only shut its writing side: it still reads its answers', async () => {
      const connections: Connection<unknown>[] = [];
      await serve({}, (server) => server.on('connection', (connection) => connections.push(connection)));
      const raw = rawSocket(running!.path);
      raws.push(raw);
      raw.socket.write(hello(1));
      await until(() => connections.length === 1);
      connections[0]!.pauseRequests();
      raw.socket.end(frame(4, 1, 7, Buffer.from('half-closed')));
      // The server has run turns past the half-close: another client was served meanwhile.
      await roundTrip();
      await roundTrip();
      expect(connections[0]!.isOpen).toBe(true);
      connections[0]!.resumeRequests();
      await raw.closed;
      expect(Buffer.concat(raw.received).includes(frame(5, 0, 7, Buffer.from('half-closed')))).toBe(true);
    });
  });

  describe('in-flight limits', () => {
    it('serves every connection that waited at the gate once it opens, with synchronous handlers too', async () => {
      await serve({ maxInFlight: 1 });
      const waiting = await Promise.all([0, 1, 2, 3].map(() => client()));
      running!.server.pauseRequests();
      const replies = waiting.map((c, i) => c.request(1, Buffer.from(`c${i}`)));
      await until(() => running!.server.connections().filter((info) => info.stats.readPaused).length === 4);
      running!.server.resumeRequests();
      expect((await Promise.all(replies)).map(String)).toEqual(['c0', 'c1', 'c2', 'c3']);
    });

    it('gives no room at the gate to a peer that sent part of a frame: a client waiting behind it is served', async () => {
      await serve({ maxInFlight: 2 });
      const holder = await client();
      const victim = await client();
      const slow = [holder.request(HOLD), holder.request(HOLD)];
      await until(() => held.length === 2);
      // Two peers complete the handshake, then send one byte of a request and nothing more.
      const before = new Set(running!.server.connections().map((info) => info.id));
      for (let i = 0; i < 2; i++) {
        const raw = rawSocket(running!.path);
        raws.push(raw);
        raw.socket.write(hello(1));
      }
      await until(() => running!.server.connections().length === before.size + 2);
      for (const raw of raws) raw.socket.write(frame(4, 1, 7, Buffer.from('never finished')).subarray(0, 1));
      // The raw peers' connections; the victim waits at the gate once it asks (over shared
      // memory it may wait there already: a doorbell is a reason to look).
      const pausedRaws = (): number =>
        running!.server.connections().filter((info) => !before.has(info.id) && info.stats.readPaused).length;
      await until(() => pausedRaws() === 2);
      const reply = victim.request(1, Buffer.from('victim'));
      await until(() => running!.server.connections().filter((info) => info.stats.readPaused).length === 3);
      for (const release of held) release();
      expect((await reply).toString()).toBe('victim');
      await Promise.all(slow);
    });

    it('stops reading a connection at maxInFlightPerConnection and resumes as handlers settle', async () => {
      await serve({ maxInFlightPerConnection: 3 });
      const c = await client();
      const replies = Array.from({ length: 10 }, (_, i) => c.request(HOLD, Buffer.from(String(i))));
      await until(() => held.length === 3);
      await roundTrip();
      expect(held.length).toBe(3);
      expect(running!.server.connections().find((info) => info.stats.inFlight === 3)?.stats.readPaused).toBe(true);
      // Releasing one admits exactly one more; releasing all drains the rest in order.
      held[0]!();
      await until(() => held.length === 4);
      for (let released = 1; released < 10; released++) {
        await until(() => held.length > released);
        held[released]!();
      }
      expect((await Promise.all(replies)).map(String)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    });

    it('stops reading every connection at the server-wide maxInFlight', async () => {
      await serve({ maxInFlight: 4 });
      const a = await client();
      const b = await client();
      const replies = [
        ...Array.from({ length: 3 }, () => a.request(HOLD)),
        ...Array.from({ length: 3 }, () => b.request(HOLD)),
      ];
      await until(() => held.length === 4);
      const echo = b.request(1, Buffer.from('behind the limit'));
      await until(() => running!.server.stats().readPaused);
      expect(held.length).toBe(4);
      expect(running!.server.stats().inFlight).toBe(4);
      held[0]!();
      held[1]!();
      await until(() => held.length === 6);
      for (const release of held) release();
      await Promise.all(replies);
      expect((await echo).toString()).toBe('behind the limit');
      expect(running!.server.stats()).toMatchObject({ inFlight: 0, readPaused: false });
    });
  });

  describe('push-back by the service', () => {
    it('pauses and resumes one connection, leaving the others served', async () => {
      const connections: Connection<unknown>[] = [];
      await serve({}, (server) => server.on('connection', (connection) => connections.push(connection)));
      const paused = await client();
      await until(() => connections.length === 1);
      connections[0]!.pauseRequests();
      let answered = false;
      const reply = paused.request(1, Buffer.from('later')).then((payload) => {
        answered = true;
        return payload.toString();
      });
      await roundTrip();
      expect(answered).toBe(false);
      expect(connections[0]!.stats.readPaused).toBe(true);
      connections[0]!.resumeRequests();
      expect(await reply).toBe('later');
    });

    it('pauses and resumes the whole server; responses already due still go out', async () => {
      await serve({});
      const c = await client();
      const due = c.request(HOLD, Buffer.from('due'));
      await until(() => held.length === 1);
      running!.server.pauseRequests();
      let answered = false;
      const later = c.request(1, Buffer.from('later')).then((payload) => {
        answered = true;
        return payload.toString();
      });
      held[0]!();
      expect((await due).toString()).toBe('due');
      expect(answered).toBe(false);
      expect(running!.server.stats().readPaused).toBe(true);
      running!.server.resumeRequests();
      expect(await later).toBe('later');
    });
  });

  describe('request rates', () => {
    it('holds a connection to its requestRate, serving every request in the end', async () => {
      await serve({ requestRate: { perSecond: 2000, burst: 10 } });
      const c = await client();
      const replies = await Promise.all(Array.from({ length: 60 }, (_, i) => c.request(1, Buffer.from(String(i)))));
      expect(replies.map(String)).toEqual(Array.from({ length: 60 }, (_, i) => String(i)));
      const echo = running!.server.stats().services.find((service) => service.name === 'echo')!;
      expect(echo.requests).toBe(60);
      // 60 requests arrive together against a burst of 10: reading had to wait at least once.
      expect(echo.throttleEpisodes).toBeGreaterThan(0);
    });

    it('holds the whole server to its serverRequestRate across connections', async () => {
      await serve({ serverRequestRate: { perSecond: 2000, burst: 5 } });
      const [a, b] = [await client(), await client()];
      const replies = await Promise.all(
        [a, b].flatMap((c) => Array.from({ length: 30 }, () => c.request(1, Buffer.from('x')))),
      );
      expect(replies.length).toBe(60);
      expect(running!.server.stats().services[0]!.requests).toBe(60);
    });

    it('rejects out-of-range limits with EINVAL', () => {
      const make = (options: Partial<IpcServerOptions>) => () =>
        new IpcServer({ poller: serverPoller(), transport: new SocketTransport(), ...options });
      expect(make({ requestRate: { perSecond: 0 } })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
      expect(make({ serverRequestRate: { perSecond: 10, burst: 0.5 } })).toThrow(
        expect.objectContaining({ code: 'EINVAL' }),
      );
      expect(make({ maxConnections: -1 })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
      // A timer cannot hold it: setTimeout would fire at once and drop every client.
      expect(make({ handshakeTimeout: Number.POSITIVE_INFINITY })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
      expect(make({ onEventQueueFull: 'drop' as 'reject' })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    });
  });

  describe('graceful close', () => {
    it('lets running handlers answer, then says goodbye; requests not yet read are not run', async () => {
      const closedHooks: string[] = [];
      await serve({}, (server) =>
        server.addService({
          id: 2,
          name: 'watch',
          commands: {},
          closed: (_connection, reason) => closedHooks.push((reason as IpcError).code),
        }),
      );
      const c = await client();
      const watcher = await client('watch');
      const ended = new Promise<IpcError>((resolve) => c.once('close', resolve));
      // The watcher learns of the goodbye on its own poller's turn, after close() resolves.
      const watcherEnded = new Promise<IpcError>((resolve) => watcher.once('close', resolve));
      const inFlight = c.request(HOLD, Buffer.from('finishes'));
      await until(() => held.length === 1);
      const closing = running!.server.close();
      held[0]!();
      expect((await inFlight).toString()).toBe('finishes');
      expect((await ended).code).toBe('ESHUTDOWN');
      await closing;
      expect((await watcherEnded).code).toBe('ESHUTDOWN');
      expect(watcher.isOpen).toBe(false);
      expect(closedHooks).toEqual(['ECONNABORTED']);
    });

    it('closes connections whose handlers outlive the deadline; their requests reject', async () => {
      await serve({});
      const c = await client();
      const stuck = c.request(HOLD);
      await until(() => held.length === 1);
      await running!.server.close({ timeout: 50 });
      await expect(stuck).rejects.toMatchObject({ code: 'ECONNRESET' });
      expect(running!.server.stats().connections).toBe(0);
    });
  });

  describe('introspection service', () => {
    it('answers server stats and the connection list over the wire to the same uid', async () => {
      await serve({ introspection: true });
      const c = await client();
      await c.request(1, Buffer.from('counted'));
      const inspector = await client(INTROSPECTION_SERVICE_NAME);
      const stats = await fetchServerStats(inspector);
      const echo = stats.services.find((service) => service.name === 'echo')!;
      expect(echo).toMatchObject({ requests: 1, responses: 1, connections: 1, accepted: 1 });
      expect(stats.accepted).toBe(2);
      const connections = await fetchConnections(inspector);
      expect(connections.map((info) => info.serviceId).sort()).toEqual([1, 0xffff]);
      expect(connections.find((info) => info.serviceId === 1)!.credentials.pid).toBe(process.pid);
    });

    it('refuses another uid by default', async () => {
      await serve({ introspection: true });
      const peer = spawnFixture('client', ['connect', running!.address, INTROSPECTION_SERVICE_NAME], {
        uid: 65534,
        gid: 65534,
      });
      expect(await peer.next('refused')).toMatchObject({ code: 'EACCES', isIpcError: true });
      await peer.exited;
    });
  });
});
