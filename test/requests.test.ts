import { describe, expect, it } from 'vitest';
import {
  AddressTransport,
  IpcError,
  type Connection,
  type HandlerFailure,
  type IpcClient,
  type IpcServer,
} from 'pollux';
import { patternPayload } from './support/payload.js';
import { deferred, type TestServer } from './support/server.js';
import { transportMatrix, useBackends } from './support/backends.js';
import { useTestResources } from './support/test-resources.js';

describe.each(transportMatrix)('server on $server, clients on $client, over $transport', (pair) => {
  const { connectTo, startServerOn, spawnFixture } = useBackends(pair);

  const MAX = 256 * 1024;

  const resources = useTestResources();
  const { clients } = resources;

  async function serve(configure: (server: IpcServer) => void, maxMessageSize = MAX): Promise<TestServer> {
    resources.running = await startServerOn(configure, { maxMessageSize });
    return resources.running;
  }

  async function client(address: string, service: string | number): Promise<IpcClient> {
    const c = await connectTo(address, service);
    clients.push(c);
    return c;
  }

  describe('requests and responses', () => {
    it('serves many client processes with pipelined requests from 0 B to the maximum, byte for byte', async () => {
      const { server, address } = await serve((s) =>
        s.addService({ id: 7, name: 'echo', commands: { 1: (payload) => payload } }),
      );
      const peers = [1, 2, 3, 4].map((seed) =>
        spawnFixture('client', ['echo-batch', address, '400', String(MAX), String(seed)]),
      );
      const results = await Promise.all(peers.map((peer) => peer.next('done')));
      for (const result of results) {
        expect(result).toMatchObject({ ok: 400, mismatched: 0, oversize: 'EMSGSIZE' });
      }
      await Promise.all(peers.map((peer) => peer.exited));
      const echo = server.stats().services[0]!;
      // The oversize requests never reached the server: rejected before anything was written.
      expect(echo.requests).toBe(4 * 400);
      expect(echo.responses).toBe(4 * 400);
      expect(echo.accepted).toBe(4);
    });

    it('echoes pipelined requests of every size up to the maximum byte for byte, with events between them, through rings smaller than a message', async () => {
      // The smallest ring: messages three times its size stream through it, and as consecutive
      // sizes move the stream's position on, messages start, end and wrap at every offset.
      const ringBytes = 4096;
      const largest = 3 * ringBytes + 100;
      /** Every third request has the server send an event of the same size before answering. */
      const hasEvent = (size: number): boolean => size % 3 === 0;
      resources.running = await startServerOn(
        (s) =>
          s.addService({
            id: 1,
            name: 'echo',
            commands: {
              1: (payload, connection) => {
                if (hasEvent(payload.length))
                  connection.sendEvent(7, patternPayload(2, payload.length, payload.length));
                return payload;
              },
            },
          }),
        { maxMessageSize: largest, shm: { ringBytes } },
      );
      const c = await connectTo(resources.running.address, 'echo', {
        transport: new AddressTransport({}, { ringBytes }),
      });
      clients.push(c);
      const eventSizes: number[] = [];
      const eventSeen = new Set<number>();
      let eventsMismatched = 0;
      // An event's payload may be a view into the ring: compare it before the listener returns.
      c.on('event', (_id, payload) => {
        eventSizes.push(payload.length);
        eventSeen.add(payload.length);
        if (!payload.equals(patternPayload(2, payload.length, payload.length))) eventsMismatched++;
      });
      const sizes = Array.from({ length: largest + 1 }, (_, size) => size);
      /** Per size: whether the event it caused had arrived when its response did. */
      const eventFirst: boolean[] = [];
      const mismatched = (
        await Promise.all(
          sizes.map((size) =>
            c.request(1, patternPayload(1, size, size)).then((reply) => {
              eventFirst[size] = !hasEvent(size) || eventSeen.has(size);
              return reply.equals(patternPayload(1, size, size)) ? [] : [size];
            }),
          ),
        )
      ).flat();
      expect(mismatched).toEqual([]);
      expect(eventsMismatched).toBe(0);
      expect(eventSizes).toEqual(sizes.filter(hasEvent));
      expect(eventFirst.every(Boolean)).toBe(true);
    });

    it('hands out payloads that stay intact while more traffic follows: kept requests, responses and events are never reused memory', async () => {
      const kept: Buffer[] = [];
      const { address } = await serve((s) =>
        s.addService({
          id: 1,
          name: 'echo',
          commands: {
            1: (payload, connection) => {
              kept.push(payload);
              connection.sendEvent(payload.length & 0xffff, payload);
              return payload;
            },
          },
        }),
      );
      const c = await client(address, 'echo');
      const events: Buffer[] = [];
      c.on('event', (_id, payload) => events.push(payload));
      // Small, socket-buffer-sized and large frames mixed, so payloads come from shared chunks,
      // from chunks of their own, and from frames cut across reads.
      const sizes = Array.from({ length: 240 }, (_, i) => [1, 700, 4096, 16 * 1024, 65_536, 100_003, MAX][i % 7]!);
      const round = (seed: number): Promise<Buffer[]> =>
        Promise.all(sizes.map((size, i) => c.request(1, patternPayload(seed, i, size))));
      const responses = await round(1);
      // More traffic through the same connection, with other bytes, before anything is checked.
      await round(2);
      const stale = (payloads: readonly Buffer[], seed: number): number[] =>
        payloads.flatMap((payload, i) => (payload.equals(patternPayload(seed, i, sizes[i]!)) ? [] : [i]));
      expect(stale(responses, 1)).toEqual([]);
      expect(stale(kept.slice(0, sizes.length), 1)).toEqual([]);
      expect(stale(events.slice(0, sizes.length), 1)).toEqual([]);
      expect(stale(kept.slice(sizes.length), 2)).toEqual([]);
    });

    it('connects by service id or by name', async () => {
      const { address } = await serve((s) =>
        s.addService({ id: 9, name: 'nine', commands: { 0: () => Buffer.from('ok') } }),
      );
      const byId = await client(address, 9);
      const byName = await client(address, 'nine');
      expect([byId.serviceId, byId.serviceName, byName.serviceId, byName.serviceName]).toEqual([9, 'nine', 9, 'nine']);
      expect((await byId.request(0)).toString()).toBe('ok');
      expect(byId.serverCredentials.pid).toBe(process.pid);
    });

    it('lets async handlers finish out of order, each response reaching its own request', async () => {
      const gates = new Map<number, (value: Buffer) => void>();
      const { address } = await serve((s) =>
        s.addService({
          id: 1,
          name: 'slow',
          commands: {
            0: (payload) => {
              const gate = deferred<Buffer>();
              gates.set(payload.readUInt32LE(0), gate.resolve);
              return gate.promise;
            },
            1: (payload) => payload,
          },
        }),
      );
      const c = await client(address, 'slow');
      const order: number[] = [];
      const requests = Array.from({ length: 50 }, (_, i) => {
        const payload = Buffer.alloc(4);
        payload.writeUInt32LE(i);
        return c.request(0, payload).then((reply) => {
          order.push(i);
          return reply.toString();
        });
      });
      // Requests are dispatched in order, so once this echo is back all 50 handlers are resources.running.
      await c.request(1);
      expect(gates.size).toBe(50);
      for (let i = 49; i >= 0; i--) gates.get(i)!(Buffer.from(`answer ${i}`));
      expect(await Promise.all(requests)).toEqual(Array.from({ length: 50 }, (_, i) => `answer ${i}`));
      expect(order).toEqual(Array.from({ length: 50 }, (_, i) => 49 - i));
    });

    it('keeps events and responses apart, in the order the server sent them', async () => {
      const { address } = await serve((s) =>
        s.addService({
          id: 1,
          name: 'events',
          commands: {
            // Sends `n` events, then answers with a payload that looks just like an event's.
            0: (payload, connection) => {
              const n = payload.readUInt16LE(0);
              for (let i = 0; i < n; i++) connection.sendEvent(i, Buffer.from(`event ${i}`));
              return Buffer.from(`event ${n}`);
            },
          },
        }),
      );
      const c = await client(address, 'events');
      const seen: string[] = [];
      c.on('event', (id, payload) => seen.push(`${id}:${payload.toString()}`));
      // Pipelined: the responses must come back as responses, never consumed as events.
      const replies = await Promise.all(
        [3, 0, 5].map((n) => {
          const payload = Buffer.alloc(2);
          payload.writeUInt16LE(n);
          return c.request(0, payload).then((reply) => reply.toString());
        }),
      );
      expect(replies).toEqual(['event 3', 'event 0', 'event 5']);
      expect(seen).toEqual([
        '0:event 0',
        '1:event 1',
        '2:event 2',
        '0:event 0',
        '1:event 1',
        '2:event 2',
        '3:event 3',
        '4:event 4',
      ]);
      // One at a time: every event sent before a response is delivered before its promise settles.
      for (const n of [2, 4]) {
        seen.length = 0;
        const payload = Buffer.alloc(2);
        payload.writeUInt16LE(n);
        const reply = await c.request(0, payload);
        expect(reply.toString()).toBe(`event ${n}`);
        expect(seen).toEqual(Array.from({ length: n }, (_, i) => `${i}:event ${i}`));
      }
      expect(c.stats.events).toBe(14);
    });
  });

  describe('errors reach the right party', () => {
    it('rejects an oversize request with EMSGSIZE before writing anything', async () => {
      const { server, address } = await serve(
        (s) => s.addService({ id: 1, name: 'echo', commands: { 1: (p) => p } }),
        1000,
      );
      const c = await client(address, 'echo');
      expect(c.maxMessageSize).toBe(1000);
      const bytesOut = c.stats.bytesOut;
      await expect(c.request(1, Buffer.alloc(1001))).rejects.toMatchObject({ code: 'EMSGSIZE' });
      expect(c.stats.bytesOut).toBe(bytesOut);
      expect((await c.request(1, Buffer.alloc(1000, 1))).length).toBe(1000);
      expect(server.stats().services[0]!.requests).toBe(1);
    });

    it('tells the service the message size agreed with each client', async () => {
      const seen: number[] = [];
      const failures: HandlerFailure[] = [];
      const { server, address } = await serve((s) =>
        s.addService({
          id: 1,
          name: 'sizes',
          commands: {
            0: (_payload, connection) => {
              seen.push(connection.maxMessageSize);
              // The agreed size bounds what the service may send back, not the server's maximum.
              return Buffer.alloc(connection.maxMessageSize + 1);
            },
          },
        }),
      );
      server.on('handlerError', (failure) => failures.push(failure));
      const modest = await connectTo(address, 'sizes', { maxMessageSize: 1000 });
      clients.push(modest);
      await expect(modest.request(0)).rejects.toMatchObject({ code: 'EMSGSIZE' });
      const greedy = await connectTo(address, 'sizes', { maxMessageSize: 4 * MAX });
      clients.push(greedy);
      await expect(greedy.request(0)).rejects.toMatchObject({ code: 'EMSGSIZE' });
      expect(seen).toEqual([1000, MAX]);
      expect(failures.map((failure) => (failure.error as IpcError).code)).toEqual(['EMSGSIZE', 'EMSGSIZE']);
    });

    it('answers an unknown command with ENOSYS and keeps the connection', async () => {
      const { address } = await serve((s) => s.addService({ id: 1, name: 'echo', commands: { 1: (p) => p } }));
      const c = await client(address, 'echo');
      const failure = await c.request(2).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(IpcError);
      expect(failure).toMatchObject({ code: 'ENOSYS' });
      expect((await c.request(1, Buffer.from('still here'))).toString()).toBe('still here');
    });

    it('routes through a selector instead of a table', async () => {
      const { address } = await serve((s) =>
        s.addService({
          id: 1,
          name: 'sel',
          commands: (command) => (command >= 100 ? () => Buffer.from(`cmd ${command}`) : undefined),
        }),
      );
      const c = await client(address, 'sel');
      expect((await c.request(65535)).toString()).toBe('cmd 65535');
      await expect(c.request(5)).rejects.toMatchObject({ code: 'ENOSYS' });
    });

    it('passes a thrown IpcError to the caller and reports every other handler failure on the server, without its text', async () => {
      const failures: HandlerFailure[] = [];
      const { server, address } = await serve((s) => {
        const commands = {
          0: () => {
            throw new IpcError('ENOENT', 'no such key "a"');
          },
          1: async () => {
            throw new Error('plain failure at /srv/secret/db');
          },
          2: () => Buffer.alloc(MAX + 1),
          3: () => 'not bytes' as unknown as Uint8Array,
          4: () => {
            throw new TypeError('x.y is not a function');
          },
        };
        s.addService({ id: 1, name: 'thrower', commands });
        s.addService({ id: 2, name: 'open-thrower', exposeErrors: true, commands });
      });
      server.on('handlerError', (failure) => failures.push(failure));
      const c = await client(address, 'thrower');
      await expect(c.request(0)).rejects.toMatchObject({ code: 'ENOENT', message: 'no such key "a"' });
      const generic = {
        code: 'EREMOTEIO',
        message: 'service "thrower" failed to handle command 1; the server reported why',
      };
      await expect(c.request(1)).rejects.toMatchObject(generic);
      await expect(c.request(2)).rejects.toMatchObject({ code: 'EMSGSIZE' });
      await expect(c.request(3)).rejects.toMatchObject({
        code: 'EREMOTEIO',
        message: 'service "thrower" failed to handle command 3; the server reported why',
      });
      await expect(c.request(4)).rejects.toMatchObject({
        code: 'EREMOTEIO',
        message: 'service "thrower" failed to handle command 4; the server reported why',
      });
      expect(((await c.request(0).catch((e: unknown) => e)) as IpcError).name).toBe('IpcError');
      expect(failures.map((f) => [f.serviceName, f.command, f.connection.credentials.pid])).toEqual([
        ['thrower', 1, process.pid],
        ['thrower', 2, process.pid],
        ['thrower', 3, process.pid],
        ['thrower', 4, process.pid],
      ]);
      expect((failures[0]!.error as Error).message).toBe('plain failure at /srv/secret/db');
      expect(failures[3]!.error).toBeInstanceOf(TypeError);
      const open = await client(address, 'open-thrower');
      await expect(open.request(1)).rejects.toMatchObject({
        code: 'EREMOTEIO',
        message: 'plain failure at /srv/secret/db',
      });
      await expect(open.request(4)).rejects.toMatchObject({ code: 'EREMOTEIO', message: 'x.y is not a function' });
      expect(server.stats().services.map((service) => [service.name, service.handlerFailures])).toEqual([
        ['thrower', 4],
        ['open-thrower', 2],
      ]);
    });

    it('refuses an event whose payload is not bytes or whose id is not a number with EINVAL at the call, and keeps serving', async () => {
      const { server, address } = await serve((s) =>
        s.addService({ id: 1, name: 'ev', commands: { 0: () => Buffer.from('ok') } }),
      );
      const opened = new Promise<Connection<unknown>>((resolve) => server.once('connection', resolve));
      const c = await client(address, 'ev');
      const connection = await opened;
      const events: [number, string][] = [];
      c.on('event', (event, payload) => events.push([event, payload.toString()]));
      for (const payload of ['hello', 'x'.repeat(2000), { length: 3 }, 42, null]) {
        expect(() => connection.sendEvent(1, payload as unknown as Uint8Array)).toThrow(
          expect.objectContaining({ code: 'EINVAL' }),
        );
      }
      expect(() => connection.sendEvent('1' as unknown as number, Buffer.alloc(1))).toThrow(
        expect.objectContaining({
          code: 'EINVAL',
          message: 'event id must be an integer in 0–65535, got the string "1": pass the number 1, not a string',
        }),
      );
      connection.sendEvent(2, Buffer.from('fine'));
      expect((await c.request(0)).toString()).toBe('ok');
      // Events and responses keep their order: the good event came first, and nothing else did.
      expect(events).toEqual([[2, 'fine']]);
      expect(connection.stats.events).toBe(1);
    });

    it('prints a handler failure as a process warning once per command when nobody listens', async () => {
      const warnings: string[] = [];
      const onWarning = (warning: Error): void => {
        if (warning.name === 'IpcServerWarning') warnings.push(warning.message);
      };
      process.on('warning', onWarning);
      try {
        const { server, address } = await serve((s) =>
          s.addService({
            id: 1,
            name: 'buggy',
            commands: {
              7: () => {
                throw new RangeError('index 9 out of range');
              },
            },
          }),
        );
        const c = await client(address, 'buggy');
        for (let i = 0; i < 3; i++) await expect(c.request(7)).rejects.toMatchObject({ code: 'EREMOTEIO' });
        expect(warnings).toHaveLength(1);
        expect(warnings[0]).toContain('command 7 of service "buggy"');
        expect(warnings[0]).toContain('RangeError: index 9 out of range');
        expect(server.stats().services[0]!.handlerFailures).toBe(3);
      } finally {
        process.off('warning', onWarning);
      }
    });

    it('fails to connect to an unknown service with ENXIO, and to nothing with ENOENT or ECONNREFUSED', async () => {
      const { address } = await serve((s) => s.addService({ id: 1, name: 'echo', commands: {} }));
      await expect(connectTo(address, 'nope')).rejects.toMatchObject({ code: 'ENXIO' });
      await expect(connectTo(address, 2)).rejects.toMatchObject({ code: 'ENXIO' });
      await expect(connectTo(`${address}.missing`, 1)).rejects.toMatchObject({ code: 'ENOENT' });
      await expect(connectTo('@pollux-test-nobody-listens', 1)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    });

    it('rejects requests after close with ESHUTDOWN and pending ones still complete', async () => {
      const gate = deferred<Buffer>();
      const { address } = await serve((s) =>
        s.addService({ id: 1, name: 'gate', commands: { 0: () => gate.promise } }),
      );
      const c = await client(address, 'gate');
      const pending = c.request(0);
      const closing = c.close();
      await expect(c.request(0)).rejects.toMatchObject({ code: 'ESHUTDOWN' });
      gate.resolve(Buffer.from('done'));
      expect((await pending).toString()).toBe('done');
      await closing;
      await expect(c.request(0)).rejects.toMatchObject({ code: 'ESHUTDOWN' });
    });

    it('times out and cancels requests, discarding and counting late responses', async () => {
      const gates: ((value: Buffer) => void)[] = [];
      const { address } = await serve((s) =>
        s.addService({
          id: 1,
          name: 'gate',
          commands: {
            0: () => {
              const gate = deferred<Buffer>();
              gates.push(gate.resolve);
              return gate.promise;
            },
            1: (p) => p,
          },
        }),
      );
      const c = await client(address, 'gate');
      const timedOut = c.request(0, undefined, { timeout: 20 });
      await expect(timedOut).rejects.toMatchObject({ code: 'ETIMEDOUT' });
      const abort = new AbortController();
      const cancelled = c.request(0, undefined, { signal: abort.signal });
      abort.abort();
      await expect(cancelled).rejects.toMatchObject({ code: 'ECANCELED' });
      // In-order dispatch: once this echo is back, the server holds both abandoned requests.
      await c.request(1);
      expect(gates.length).toBe(2);
      for (const open of gates) open(Buffer.from('late'));
      // The next answer on the connection is the echo's, not a late one misdelivered.
      expect((await c.request(1, Buffer.from('fresh'))).toString()).toBe('fresh');
      expect(c.stats.lateResponses).toBe(2);
      expect(c.pendingRequests).toBe(0);
    });
  });

  describe('closing on purpose', () => {
    it('tells the server a client that closed (ESHUTDOWN) from one that vanished (ECONNRESET)', async () => {
      const reasons: string[] = [];
      let ended = deferred<void>();
      const { address } = await serve((s) =>
        s.addService({
          id: 1,
          name: 'echo',
          commands: { 1: (p) => p },
          closed: (_connection, reason) => {
            reasons.push((reason as IpcError).code);
            ended.resolve();
          },
        }),
      );
      const polite = await client(address, 'echo');
      await polite.close();
      await ended.promise;
      ended = deferred<void>();
      const peer = spawnFixture('client', ['hold', address, '1']);
      await peer.next('sent');
      peer.child.kill('SIGKILL');
      await ended.promise;
      await peer.exited;
      expect(reasons).toEqual(['ESHUTDOWN', 'ECONNRESET']);
    });

    it('tells the client when the server closes its connection, rejecting what was pending', async () => {
      const gate = deferred<Buffer>();
      const { server, address } = await serve((s) =>
        s.addService({ id: 1, name: 'gate', commands: { 0: () => gate.promise } }),
      );
      const opened = new Promise<Connection<unknown>>((resolve) => server.once('connection', resolve));
      const c = await client(address, 'gate');
      const closed = new Promise<IpcError>((resolve) => c.once('close', resolve));
      const pending = c.request(0).catch((error: unknown) => error);
      await c.request(1).catch(() => undefined); // in-order barrier: the gated request has arrived
      (await opened).close();
      expect(await closed).toMatchObject({ code: 'ESHUTDOWN' });
      expect(await pending).toMatchObject({ code: 'ECONNRESET' });
      gate.resolve(Buffer.alloc(0));
    });

    it('reads a goodbye already waiting before judging a close: server.close() right after client.close() is orderly', async () => {
      const reasons: [string, string][] = [];
      const { server, address } = await serve((s) =>
        s.addService({
          id: 1,
          name: 'echo',
          commands: { 1: (p) => p },
          closed: (_connection, reason) => reasons.push([(reason as IpcError).code, reason.message]),
        }),
      );
      const c = await client(address, 'echo');
      await c.request(1, Buffer.from('x'));
      // No turn of the loop between the two: the client's goodbye still waits unread in the server's socket.
      const clientClosed = c.close();
      await server.close();
      await clientClosed;
      expect(reasons).toEqual([['ESHUTDOWN', 'client closed the connection']]);
    });

    it('rejects a request made right after server.close() with ESHUTDOWN: the server never read it, so it never ran', async () => {
      let ran = 0;
      const { server, address } = await serve((s) =>
        s.addService({ id: 1, name: 'count', commands: { 0: () => Buffer.from(String(++ran)) } }),
      );
      const c = await client(address, 'count');
      expect((await c.request(0)).toString()).toBe('1');
      const closing = server.close();
      const late = await c.request(0).catch((error: unknown) => error);
      await closing;
      expect(late).toMatchObject({ code: 'ESHUTDOWN' });
      expect((late as IpcError).message).toContain('it did not run, so it is safe to send again');
      expect(ran).toBe(1);
    });
  });

  describe('service code that misbehaves', () => {
    it('delivers events a created hook sends before the client has returned from connect', async () => {
      const { address } = await serve((s) =>
        s.addService({
          id: 1,
          name: 'greeter',
          commands: {},
          created: (connection) => connection.sendEvent(3, Buffer.from('welcome')),
        }),
      );
      const c = await client(address, 'greeter');
      const event = await new Promise<string>((resolve) =>
        c.once('event', (id, payload) => resolve(`${id}:${payload.toString()}`)),
      );
      expect(event).toBe('3:welcome');
    });

    it('survives handlers that fail with values that refuse to become strings, or whose then getter throws', async () => {
      const failures: HandlerFailure[] = [];
      const { server, address } = await serve((s) =>
        s.addService({
          id: 1,
          name: 'weird',
          commands: {
            0: async () => {
              throw Object.create(null);
            },
            1: () => {
              throw Object.create(null);
            },
            2: () =>
              ({
                get then() {
                  throw new Error('bad then');
                },
              }) as unknown as Uint8Array,
            3: (payload) => payload,
          },
        }),
      );
      const c = await client(address, 'weird');
      const generic = (command: number): object => ({
        code: 'EREMOTEIO',
        message: `service "weird" failed to handle command ${command}; the server reported why`,
      });
      // First with nobody listening (the process warning path), then with a listener.
      await expect(c.request(0)).rejects.toMatchObject(generic(0));
      server.on('handlerError', (failure) => failures.push(failure));
      await expect(c.request(0)).rejects.toMatchObject(generic(0));
      await expect(c.request(1)).rejects.toMatchObject(generic(1));
      await expect(c.request(2)).rejects.toMatchObject(generic(2));
      expect((await c.request(3, Buffer.from('still here'))).toString()).toBe('still here');
      expect(failures.map((failure) => failure.command)).toEqual([0, 1, 2]);
      expect(server.stats().protocolErrors).toBe(0);
    });

    it("survives a throwing 'connection' listener, odd thenables and a promise-returning accept hook", async () => {
      const hooks: string[] = [];
      const errors: string[] = [];
      const { server, address } = await serve((s) => {
        s.addService({
          id: 1,
          name: 'odd',
          created: () => hooks.push('created'),
          destroyed: () => hooks.push('destroyed'),
          commands: {
            0: () =>
              ({
                then() {
                  throw new Error('then() exploded');
                },
              }) as unknown as Promise<void>,
            1: () =>
              ({
                then(resolve: (value: Buffer) => void) {
                  resolve(Buffer.from('once'));
                  resolve(Buffer.from('twice'));
                },
              }) as unknown as Promise<Buffer>,
          },
        });
        s.addService({
          id: 2,
          name: 'async-accept',
          accept: (async () => true) as unknown as () => boolean,
          commands: {},
        });
      });
      server.on('error', (error) => errors.push(error.message));
      server.on('connection', () => {
        throw new Error('listener bug');
      });
      const c = await client(address, 'odd');
      await expect(c.request(0)).rejects.toMatchObject({
        code: 'EREMOTEIO',
        message: 'service "odd" failed to handle command 0; the server reported why',
      });
      expect((await c.request(1)).toString()).toBe('once');
      expect(c.stats.lateResponses).toBe(0);
      await expect(connectTo(address, 'async-accept')).rejects.toMatchObject({ code: 'EACCES' });
      await c.close();
      await resources.running!.stop();
      resources.running = undefined;
      expect(hooks).toEqual(['created', 'destroyed']);
      expect(errors.some((message) => message.includes('listener bug'))).toBe(true);
      expect(errors.some((message) => message.includes('synchronously'))).toBe(true);
    });
  });
});
