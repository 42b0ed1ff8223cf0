// The server's event queue bound against a client that never reads, over each transport: a full
// ring is backpressure like a full socket, refused (EAGAIN) or dropped (ENOBUFS) by policy, never loss.
import { describe, expect, it } from 'vitest';
import type { Connection, CreateServerOptions, IpcError, IpcServer } from 'pollux';
import { deferred, until, type TestServer } from './support/server.js';
import { DROPPED_CODES, stalledClient } from './support/stalled-client.js';
import { transportMatrix, useBackends } from './support/backends.js';
import { useTestResources } from './support/test-resources.js';

describe.each(transportMatrix)('server on $server, clients on $client, over $transport', (pair) => {
  const backends = useBackends(pair);

  const resources = useTestResources();

  async function serve(options: CreateServerOptions, configure: (server: IpcServer) => void): Promise<TestServer> {
    resources.running = await backends.startServerOn(configure, { sendQueueHighWater: 64 * 1024, ...options });
    return resources.running;
  }

  const event = Buffer.alloc(4096, 7);

  it('refuses events with EAGAIN while the client does not read, says when to send again, and loses none', async () => {
    const drained = deferred<Connection<unknown>>();
    const { server, address } = await serve({}, (s) =>
      s.addService({ id: 3, name: 'feed', commands: {}, drained: (connection) => drained.resolve(connection) }),
    );
    const stalled = await stalledClient(backends, server, address, 'feed');
    let sent = 0;
    let refusal: unknown;
    try {
      for (;;) {
        stalled.connection.sendEvent(1, event);
        sent++;
      }
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toMatchObject({ code: 'EAGAIN' });
    expect(stalled.connection.stats.eventsRefused).toBe(1);
    stalled.resume();
    expect(await drained.promise).toBe(stalled.connection);
    stalled.connection.sendEvent(1, event);
    sent++;
    stalled.connection.close();
    expect(await stalled.peer.next('closed')).toMatchObject({ code: 'ESHUTDOWN', events: sent });
    await stalled.peer.exited;
  });

  it("drops a client that does not read its events under onEventQueueFull: 'disconnect', with ENOBUFS", async () => {
    const dropped = deferred<IpcError>();
    const { server, address } = await serve({ onEventQueueFull: 'disconnect' }, (s) => {
      s.addService({ id: 1, name: 'echo', commands: { 1: (payload) => payload } });
      s.on('slowConsumer', (_connection, reason) => dropped.resolve(reason));
    });
    const stalled = await stalledClient(backends, server, address, 'echo');
    let sent = 0;
    while (stalled.connection.isOpen) {
      stalled.connection.sendEvent(1, event);
      sent++;
    }
    expect((await dropped.promise).code).toBe('ENOBUFS');
    // Bounded by the queue and the transport's buffer (a socket's, or a 256 KiB ring), far below this.
    expect(sent * event.length).toBeLessThan(8 * 1024 * 1024);
    // The connection stays usable as an object after it ended: no use-after-close.
    expect(() => stalled.connection.sendEvent(1, event)).toThrow(expect.objectContaining({ code: 'ENOTCONN' }));
    expect(stalled.connection.stats.eventsRefused).toBe(1);
    stalled.resume();
    const closed = await stalled.peer.next('closed');
    expect(DROPPED_CODES).toContain(closed['code']);
    expect(closed['events']).toBeLessThan(sent);
    await stalled.peer.exited;
    await until(() => server.stats().connections === 0);
    expect(server.stats().services[0]).toMatchObject({ slowConsumersDropped: 1, eventsRefused: 1, closed: 1 });
    // The server goes on serving.
    const client = await backends.connectTo(address, 'echo');
    expect((await client.request(1, Buffer.from('after'))).toString()).toBe('after');
    await client.close();
  });
});
