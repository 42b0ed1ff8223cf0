import { describe, expect, it } from 'vitest';
import { fetchConnections, INTROSPECTION_SERVICE_NAME, IntrospectionCommand, type IpcClient } from 'pollux';
import { backendMatrix, useBackends } from './support/backends.js';
import { ensureFdLimit } from './support/fds.js';
import type { Peer } from './support/peer.js';
import type { TestServer } from './support/server.js';
import { useTestResources } from './support/test-resources.js';

/** The server's default `maxConnections`. */
const DEFAULT_MAX_CONNECTIONS = 4096;
/** The default cap on both ends, an fd for each, and room for what the test process holds anyway. */
ensureFdLimit(2 * DEFAULT_MAX_CONNECTIONS + 1024);

describe.each(backendMatrix)('server on $server, clients on $client', (pair) => {
  const { connectTo, startServerOn, spawnFixture } = useBackends(pair);
  let crowd: Peer | undefined;
  const resources = useTestResources(async () => {
    crowd?.child.stdin!.end();
    await crowd?.exited;
    crowd = undefined;
  });
  const { clients } = resources;

  async function serve(): Promise<TestServer> {
    resources.running = await startServerOn(
      (server) => server.addService({ id: 1, name: 'echo', commands: { 1: (payload) => payload } }),
      { introspection: true },
    );
    return resources.running;
  }

  async function inspector(options: { maxMessageSize?: number } = {}): Promise<IpcClient> {
    const client = await connectTo(resources.running!.address, INTROSPECTION_SERVICE_NAME, options);
    clients.push(client);
    return client;
  }

  it('lists every connection at the default cap of 4096, in pages that fit a message', async () => {
    await serve();
    // The inspector is the last connection the cap admits.
    crowd = spawnFixture('crowd', [resources.running!.address, String(DEFAULT_MAX_CONNECTIONS - 1)], { stdin: true });
    expect(await crowd.next('connected')).toMatchObject({ count: DEFAULT_MAX_CONNECTIONS - 1 });
    const inspecting = await inspector();
    const listed = await fetchConnections(inspecting);
    expect(listed).toHaveLength(DEFAULT_MAX_CONNECTIONS);
    expect(new Set(listed.map((info) => info.id)).size).toBe(DEFAULT_MAX_CONNECTIONS);
    expect(listed.filter((info) => info.credentials.pid === crowd!.pid)).toHaveLength(DEFAULT_MAX_CONNECTIONS - 1);
    expect(resources.running!.server.stats().connections).toBe(DEFAULT_MAX_CONNECTIONS);
    // The whole list would not fit one message: it came in more than one page.
    expect(Buffer.byteLength(JSON.stringify(listed))).toBeGreaterThan(inspecting.maxMessageSize);
  });

  it('pages through a list by the message size the inspector agreed', async () => {
    await serve();
    crowd = spawnFixture('crowd', [resources.running!.address, '40'], { stdin: true });
    await crowd.next('connected');
    const small = await inspector({ maxMessageSize: 2048 });
    const listed = await fetchConnections(small);
    expect(listed.map((info) => info.id)).toEqual(
      resources
        .running!.server.connections()
        .map((info) => info.id)
        .sort((a, b) => a - b),
    );
    expect(listed).toHaveLength(41);
    const first = JSON.parse(
      (await small.request(IntrospectionCommand.Connections, Buffer.from('{"maxBytes":2048}'))).toString(),
    ) as { connections: unknown[]; next: number };
    expect(first.connections.length).toBeLessThan(41);
    expect(first.next).toBeGreaterThan(0);
  });

  it('refuses a malformed page request with EINVAL and a page too small for one entry with EMSGSIZE', async () => {
    await serve();
    const client = await inspector();
    await expect(client.request(IntrospectionCommand.Connections, Buffer.from('{"after":"x"}'))).rejects.toMatchObject({
      code: 'EINVAL',
    });
    await expect(client.request(IntrospectionCommand.Connections, Buffer.from('not json'))).rejects.toMatchObject({
      code: 'EINVAL',
    });
    await expect(
      client.request(IntrospectionCommand.Connections, Buffer.from('{"maxBytes":40}')),
    ).rejects.toMatchObject({
      code: 'EMSGSIZE',
      message: expect.stringContaining('cannot hold one connection entry'),
    });
  });
});
