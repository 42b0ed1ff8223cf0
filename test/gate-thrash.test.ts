import { describe, expect, it } from 'vitest';
import { backendMatrix, useBackends } from './support/backends.js';
import { CountingPoller } from './support/counting-poller.js';
import { startServer } from './support/server.js';
import { useTestResources } from './support/test-resources.js';

const REQUESTS_PER_CLIENT = 10;
/** Interest changes one request may cost: a pause and a wake at the gate, a write that waits and drains. */
const MODIFIES_PER_REQUEST = 4;

describe.each(backendMatrix)('server on $server, clients on $client', (pair) => {
  const { serverPoller, connectTo } = useBackends(pair);
  const resources = useTestResources();
  const { clients } = resources;

  it.each([
    { connections: 50, maxInFlight: 8 },
    { connections: 200, maxInFlight: 8 },
    { connections: 50, maxInFlight: 4 },
  ])(
    'pauses only the connections that meet the maxInFlight gate: $connections connections, maxInFlight $maxInFlight',
    async ({ connections, maxInFlight }) => {
      const poller = new CountingPoller(serverPoller());
      resources.running = await startServer(
        (server) =>
          server.addService({
            id: 1,
            name: 'slow',
            // Answers a turn later, so handlers pile up against the limit.
            commands: { 1: (payload) => new Promise<Uint8Array>((resolve) => setImmediate(() => resolve(payload))) },
          }),
        { poller, maxInFlight },
      );
      for (let i = 0; i < connections; i++) clients.push(await connectTo(resources.running.address, 'slow'));
      poller.modifies = 0;
      const replies = clients.flatMap((client) =>
        Array.from({ length: REQUESTS_PER_CLIENT }, (_, i) => client.request(1, Buffer.from([i]))),
      );
      await Promise.all(replies);
      const requests = connections * REQUESTS_PER_CLIENT;
      expect(resources.running.server.stats().services[0]!.requests).toBe(requests);
      expect(poller.modifies / requests).toBeLessThanOrEqual(MODIFIES_PER_REQUEST);
    },
  );
});
