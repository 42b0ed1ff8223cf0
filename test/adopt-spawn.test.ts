// spawnWithChannel: a parent server and a child client over a socketpair, as real processes.
import { readdirSync, readlinkSync } from 'node:fs';
import { createServer, connectInherited, spawnWithChannel, type IpcServer } from 'pollux';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { backendMatrix, useBackends } from './support/backends.js';
import { openFdCount } from './support/fds.js';
import { spawnPeer, type Peer } from './support/peer.js';
import { deferred, until } from './support/server.js';

/** The sockets a process holds, by fd: `socket:[inode]`, the same for every fd of one socket. */
function socketsOf(pid: number | 'self'): Record<string, string> {
  const sockets: Record<string, string> = {};
  for (const name of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${name}`);
      if (target.startsWith('socket:')) sockets[name] = target;
    } catch {
      // Closed while listed.
    }
  }
  return sockets;
}

describe.each(backendMatrix)('server on $server, child client on $client', (pair) => {
  const { serverPoller, clientEnv } = useBackends(pair);
  let fdsBefore = 0;
  let server: IpcServer | undefined;

  beforeEach(() => {
    fdsBefore = openFdCount();
  });

  afterEach(async () => {
    await server?.close();
    server = undefined;
    expect(openFdCount(), 'fds leaked by this test').toBe(fdsBefore);
  });

  /** A server with an echo service whose `closed` hook records who left; and the child it spawned. */
  async function parentAndChild(
    inspect?: (peer: Peer) => Promise<void>,
  ): Promise<{ peer: Peer; closed: string[]; closedOnce: Promise<void> }> {
    // The poller's own fds (an epoll fd) come with its first use: not the test's to account for.
    serverPoller();
    fdsBefore = openFdCount();
    const closed: string[] = [];
    const first = deferred<void>();
    server = createServer({ poller: serverPoller() });
    const echo = server.addService<{ pid: number }>({
      id: 1,
      name: 'echo',
      createContext: (credentials) => ({ pid: credentials.pid }),
      closed: (connection, reason) => {
        closed.push(`${connection.context.pid} ${(reason as { code?: string }).code}`);
        first.resolve();
      },
      commands: { 1: (payload) => payload },
    });
    const spawned = server;
    const peer = spawnPeer('inherited-client', [inspect === undefined ? 'connect' : 'inspect'], {
      env: clientEnv,
      stdin: inspect !== undefined,
      launch: (command, args, options) => spawnWithChannel(spawned, command, args, options),
    });
    await inspect?.(peer);
    const connected = await peer.next('connected');
    // The bootstrap is the fd after stdio, taken once and kept from the child's own children.
    expect(connected).toMatchObject({ fd: 3, envLeft: null, bootstrapOpen: false, serverPid: process.pid });
    // The server knows the child by the credentials the kernel gives, not by anything it said.
    expect(server.connections()).toMatchObject([{ credentials: { pid: peer.pid } }]);
    echo.broadcast(5, Buffer.from('hello child'));
    expect(await peer.next('event')).toMatchObject({ id: 5, payload: 'hello child' });
    expect(await peer.next('echoed')).toMatchObject({ reply: `from ${peer.pid}` });
    return { peer, closed, closedOnce: first.promise };
  }

  it('serves a spawned child requests and events; a child killed with SIGKILL is noticed and closed once', async () => {
    const { peer, closed, closedOnce } = await parentAndChild();
    peer.child.kill('SIGKILL');
    await closedOnce;
    expect(await peer.exited).toMatchObject({ signal: 'SIGKILL' });
    expect(closed).toEqual([`${peer.pid} ECONNRESET`]);
    expect(server!.stats()).toMatchObject({ connections: 0, accepted: 1, closed: 1 });
  });

  it('gives the child only its end of the channel, and keeps none of it in the parent', async () => {
    const { peer } = await parentAndChild(async (child) => {
      const { sockets } = (await child.next('sockets')) as unknown as { sockets: Record<string, string> };
      // The parent's end is still open here, waiting for the child to connect.
      const ours = new Set(Object.values(socketsOf('self')));
      expect(Object.keys(sockets)).toContain('3');
      expect(Object.values(sockets).filter((socket) => ours.has(socket))).toEqual([]);
      child.child.stdin!.write('go\n');
    });
    await server!.close();
    expect(await peer.next('closed')).toMatchObject({ code: 'ESHUTDOWN' });
    expect(await peer.exited).toMatchObject({ code: 0 });
  });

  it('leaves nothing behind for a child that exits without connecting', async () => {
    serverPoller();
    fdsBefore = openFdCount();
    server = createServer({ poller: serverPoller() });
    server.addService({ id: 1, name: 'echo', commands: {} });
    const spawned = server;
    const peer = spawnPeer('inherited-client', ['exit'], {
      env: clientEnv,
      launch: (command, args, options) => spawnWithChannel(spawned, command, args, options),
    });
    expect(await peer.exited).toMatchObject({ code: 0 });
    // The parent's end goes once the child's is gone: the fd count returns to where it was.
    await until(() => openFdCount() === fdsBefore);
    expect(server.stats()).toMatchObject({ connections: 0, accepted: 0 });
  });

  it('ends the child’s connection when the parent’s server closes', async () => {
    const { peer, closed } = await parentAndChild();
    await server!.close();
    expect(await peer.next('closed')).toMatchObject({ code: 'ESHUTDOWN' });
    expect(await peer.exited).toMatchObject({ code: 0 });
    expect(closed).toHaveLength(1);
  });
});

describe('connectInherited', () => {
  it('refuses in a process started without a channel, with EBADF', async () => {
    await expect(connectInherited('echo')).rejects.toMatchObject({
      code: 'EBADF',
      message: expect.stringContaining('POLLUX_CHANNEL_FD is not set'),
    });
  });
});
