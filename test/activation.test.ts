// systemd socket activation: a server takes over listening sockets passed to it (LISTEN_FDS,
// LISTEN_PID, LISTEN_FDNAMES, or a bare fd), and tells the service manager READY=1 and
// STOPPING=1 through NOTIFY_SOCKET. Under the real systemd-socket-activate, and by hand.
import { closeSync, existsSync, openSync } from 'node:fs';
import { createServer as createTcpServer } from 'node:net';
import { join } from 'node:path';
import * as sys from '@pollux/sys';
import { createServer, IpcError, notifyServiceManager, SocketTransport, type IpcClient, type IpcServer } from 'pollux';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { backendMatrix, useBackends } from './support/backends.js';
import { openFdCount } from './support/fds.js';
import { bindNotifySocket, type NotifySocket } from './support/notify-socket.js';
import { spawnPeer, type Peer } from './support/peer.js';
import { scratchSocket, type ScratchSocket } from './support/server.js';
import { skipWithoutSystemd } from './support/systemd.js';

/** Runs the wrapped command with LISTEN_PID set to its own pid, as systemd does for the process it starts. */
const ownListenPid = ['sh', '-c', 'export LISTEN_PID=$$; exec "$@"', 'sh'];

/** A listening Unix stream socket the test made, as systemd makes one for a .socket unit. */
function listeningSocket(path: string): number {
  const fd = sys.socketUnix();
  sys.bindUnix(fd, path, false);
  sys.listen(fd, 16);
  return fd;
}

/** What `request(2)` of the fixture's echo service answers: the credentials the server saw. */
async function credentialsSeenBy(client: IpcClient): Promise<unknown> {
  return JSON.parse((await client.request(2, Buffer.alloc(0))).toString());
}

const me = { pid: process.pid, uid: process.getuid!(), gid: process.getgid!() };

let fdsBefore: number;
const cleanups: (() => void)[] = [];
beforeEach(() => {
  fdsBefore = openFdCount();
});
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
  expect(openFdCount()).toBe(fdsBefore);
});

function scratch(): ScratchSocket {
  const socket = scratchSocket();
  cleanups.push(socket.remove);
  return socket;
}

function notifySocketIn(dir: ScratchSocket): NotifySocket {
  const notify = bindNotifySocket(join(dir.address, '..', 'notify.sock'));
  cleanups.push(notify.close);
  return notify;
}

/** Closes the fixture through its stdin and waits for it to report and exit. */
async function closeFixture(peer: Peer): Promise<void> {
  peer.child.stdin!.write('close\n');
  await peer.next('closed');
  expect(await peer.exited).toEqual({ code: 0, signal: null });
}

describe.each(backendMatrix)('socket activation, server on $server, clients on $client', (pair) => {
  const { connectTo, serverEnv } = useBackends(pair);

  it('takes the sockets passed by LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES, by name', async () => {
    const api = scratch().address;
    const admin = scratch().address;
    const apiFd = listeningSocket(api);
    const adminFd = listeningSocket(admin);
    const spareFd = listeningSocket(scratch().address);
    cleanups.push(
      () => sys.close(apiFd),
      () => sys.close(adminFd),
      () => sys.close(spareFd),
    );
    // Asked in the other order than passed: matched by name, not by position. "spare" is not asked for.
    const activated = spawnPeer('activated-server', ['systemd:admin', 'systemd:api'], {
      stdin: true,
      fds: [apiFd, adminFd, spareFd],
      wrapper: ownListenPid,
      env: { ...serverEnv, LISTEN_FDS: '3', LISTEN_FDNAMES: 'api:admin:spare' },
    });
    const listening = await activated.next('listening');
    expect(listening['addresses']).toEqual(['systemd:admin', 'systemd:api']);
    // Taken over the way sd_listen_fds(1) does: children see neither the variables nor the fds,
    // the one nobody asked for included, which stays open for a later listen.
    expect(listening['ownVariables']).toEqual([]);
    expect(listening['childVariables']).toEqual([]);
    expect(listening['passedFdsOpen']).toEqual([3, 4, 5]);
    expect(listening['childFds']).toEqual([]);

    for (const address of [api, admin]) {
      const client = await connectTo(address, 'echo');
      expect((await client.request(1, Buffer.from(`via ${address}`))).toString()).toBe(`via ${address}`);
      // Credentials come from the kernel: the server sees this process, the client sees the
      // process that called listen() (here the test, as systemd would be).
      expect(await credentialsSeenBy(client)).toEqual(me);
      expect(client.serverCredentials).toEqual(me);
      await client.close();
    }

    await closeFixture(activated);
    // The socket files belong to whoever made the sockets, and the sockets still listen.
    expect(existsSync(api)).toBe(true);
    expect(existsSync(admin)).toBe(true);
    const probe = sys.socketUnix();
    expect(sys.connectUnix(probe, api, false)).toBe(0);
    sys.close(probe);
  });

  it.skipIf(skipWithoutSystemd)(
    'serves under systemd-socket-activate and tells its notify socket READY=1 and STOPPING=1',
    async () => {
      const dir = scratch();
      const notify = notifySocketIn(dir);
      // systemd-socket-activate passes on only the environment given with -E.
      const peer = spawnPeer('activated-server', ['systemd:api'], {
        stdin: true,
        env: { ...serverEnv, SYSTEMD_LOG_LEVEL: 'warning' },
        wrapper: [
          'systemd-socket-activate',
          `--listen=${dir.address}`,
          '--fdname=api',
          `--setenv=NOTIFY_SOCKET=${notify.address}`,
          `--setenv=POLLUX_POLLER=${pair.server}`,
        ],
      });
      // It listens and waits for the first client before it starts the server: the first
      // attempts may find no socket yet.
      const client = await connectTo(dir.address, 'echo', { retry: true });
      expect((await client.request(1, Buffer.from('activated'))).toString()).toBe('activated');
      expect(await credentialsSeenBy(client)).toEqual(me);
      // systemd-socket-activate called listen() and then exec'd the server: one pid.
      expect(client.serverCredentials.pid).toBe(peer.pid);
      expect(await notify.next()).toBe('READY=1\nSTATUS=Listening on systemd:api');

      const listening = await peer.next('listening');
      expect(listening['childVariables']).toEqual([]);
      expect(listening['childFds']).toEqual([]);

      await client.close();
      await closeFixture(peer);
      expect(await notify.next()).toBe('STOPPING=1\nSTATUS=Closing');
      expect(existsSync(dir.address)).toBe(true);
    },
  );
});

describe.each(backendMatrix)('an inherited listening fd, server on $server, clients on $client', (pair) => {
  const { connectTo, listenOn } = useBackends(pair);

  it("serves on fd:<n>, and closing it closes the fd but leaves the socket's file", async () => {
    const path = scratch().address;
    const fd = listeningSocket(path);
    const server = await listenOn(`fd:${fd}`, (created) => {
      created.addService({ id: 1, name: 'echo', commands: { 1: (payload) => payload } });
    });
    expect(server.addresses).toEqual([`fd:${fd}`]);
    const client = await connectTo(path, 'echo');
    expect((await client.request(1, Buffer.from('adopted'))).toString()).toBe('adopted');
    expect(server.connections().map((connection) => connection.credentials)).toEqual([me]);
    await client.close();
    await server.close();
    // The server owned the fd and closed it; the file is whoever made the socket's to remove.
    expect(existsSync(`/proc/self/fd/${fd}`)).toBe(false);
    expect(existsSync(path)).toBe(true);
  });
});

describe('socket activation refusals', () => {
  /** Runs the fixture with `fds` passed as 3, 4, … and the activation `env`, and returns its refusal. */
  async function refusal(
    addresses: string[],
    fds: number[],
    env: Record<string, string>,
    wrapper: readonly string[] = ownListenPid,
  ): Promise<{ code: unknown; message: unknown }> {
    const peer = spawnPeer('activated-server', addresses, { fds, env, wrapper });
    const refused = await peer.next('refused');
    await peer.exited;
    expect(refused['isIpcError']).toBe(true);
    return { code: refused['code'], message: refused['message'] };
  }

  function passedSocket(): number {
    const fd = listeningSocket(scratch().address);
    cleanups.push(() => sys.close(fd));
    return fd;
  }

  it('takes nothing when LISTEN_PID names another process', async () => {
    const fd = passedSocket();
    const { code, message } = await refusal(
      ['systemd:api'],
      [fd],
      { LISTEN_FDS: '1', LISTEN_PID: '1', LISTEN_FDNAMES: 'api' },
      [],
    );
    expect(code).toBe('ENOENT');
    expect(message).toMatch(/^cannot listen on systemd:api: LISTEN_PID is "1", not this process \(\d+\): /);
  });

  it('names the sockets that were passed when the one asked for was not', async () => {
    const fds = [passedSocket(), passedSocket()];
    const { code, message } = await refusal(['systemd:web'], fds, { LISTEN_FDS: '2', LISTEN_FDNAMES: 'api:admin' });
    expect(code).toBe('ENOENT');
    expect(message).toContain('systemd passed no further socket named "web"; it passed: api, admin.');
  });

  it('hands each passed socket out once', async () => {
    const { code, message } = await refusal(['systemd:', 'systemd:'], [passedSocket()], {
      LISTEN_FDS: '1',
      LISTEN_FDNAMES: 'api',
    });
    expect(code).toBe('ENOENT');
    expect(message).toContain('systemd passed no further socket; it passed: api (taken).');
  });

  it('says so when no sockets were passed at all', async () => {
    const { code, message } = await refusal(['systemd:api'], [], {}, []);
    expect(code).toBe('ENOENT');
    expect(message).toContain('LISTEN_FDS is not set, so systemd passed no sockets');
  });

  it('refuses a passed socket that is not a Unix stream socket', async () => {
    const datagram = sys.socketUnixDatagram();
    cleanups.push(() => sys.close(datagram));
    const { code, message } = await refusal(['systemd:log'], [datagram], { LISTEN_FDS: '1', LISTEN_FDNAMES: 'log' });
    expect(code).toBe('EPROTOTYPE');
    expect(message).toContain('the socket systemd passed as fd 3 is a dgram socket, not a stream one');
  });
});

describe('fd:<n> refusals', () => {
  const transport = new SocketTransport();

  function refusedCode(address: string, using = transport): unknown {
    try {
      using.listen(address).close();
    } catch (error) {
      expect(error).toBeInstanceOf(IpcError);
      return (error as IpcError).code;
    }
    throw new Error(`listen(${address}) succeeded`);
  }

  it('refuses what is not a listening Unix stream socket, and leaves it open', async () => {
    const file = openSync('/dev/null', 'r');
    const [connected, peer] = sys.socketpair();
    const datagram = sys.socketUnixDatagram();
    const tcp = createTcpServer();
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    const tcpFd = (tcp as unknown as { _handle: { fd: number } })._handle.fd;

    expect(refusedCode(`fd:${file}`)).toBe('ENOTSOCK');
    expect(refusedCode(`fd:${connected}`)).toBe('EINVAL');
    expect(refusedCode(`fd:${datagram}`)).toBe('EPROTOTYPE');
    expect(refusedCode(`fd:${tcpFd}`)).toBe('EAFNOSUPPORT');
    expect(() => transport.listen(`fd:${tcpFd}`)).toThrow(`fd ${tcpFd} is a socket of family inet, not a Unix one`);

    // Still the caller's: each closes without EBADF.
    closeSync(file);
    for (const fd of [connected, peer, datagram]) sys.close(fd);
    await new Promise((resolve) => tcp.close(resolve));
  });

  it('refuses a closed fd, a malformed one, and file options it cannot honour', () => {
    const closed = openSync('/dev/null', 'r');
    closeSync(closed);
    expect(refusedCode(`fd:${closed}`)).toBe('EBADF');
    for (const malformed of ['fd:', 'fd:x', 'fd:-1', 'fd:3.5']) expect(refusedCode(malformed)).toBe('EINVAL');
    const fd = listeningSocket(scratch().address);
    cleanups.push(() => sys.close(fd));
    expect(refusedCode(`fd:${fd}`, new SocketTransport({ mode: 0o600 }))).toBe('EINVAL');
  });

  it('refuses an fd a listener of this process already holds', () => {
    const listener = transport.listen(scratch().address);
    expect(refusedCode(`fd:${listener.fd}`)).toBe('EBUSY');
    listener.close();
  });
});

describe.each(backendMatrix)('readiness, server on $server, clients on $client', (pair) => {
  const { connectTo, listenOn } = useBackends(pair);

  function notifyAt(address: string): void {
    process.env['NOTIFY_SOCKET'] = address;
    cleanups.push(() => delete process.env['NOTIFY_SOCKET']);
  }

  const echo = (server: IpcServer): void => {
    server.addService({ id: 1, name: 'echo', commands: { 1: (payload) => payload } });
  };

  it('sends READY=1 once listening and STOPPING=1 when closing, to a path or an abstract name', async () => {
    for (const address of [
      join(scratch().address, '..', 'notify.sock'),
      `@pollux-notify-${process.pid}-${pair.server}`,
    ]) {
      const notify = bindNotifySocket(address);
      cleanups.push(notify.close);
      notifyAt(address);
      const first = scratch().address;
      const second = scratch().address;
      const server = await listenOn(first, echo);
      expect(await notify.next()).toBe(`READY=1\nSTATUS=Listening on ${first}`);
      await server.listen(second);
      expect(await notify.next()).toBe(`READY=1\nSTATUS=Listening on ${first}, ${second}`);
      await server.close();
      expect(await notify.next()).toBe('STOPPING=1\nSTATUS=Closing');
    }
  });

  it('reports a notification that fails as an error and goes on serving', async () => {
    notifyAt(join(scratch().address, '..', 'nobody-reads-here.sock'));
    const errors: IpcError[] = [];
    const address = scratch().address;
    const served = await listenOn(address, (created) => {
      echo(created);
      created.on('error', (error) => errors.push(error));
    });
    expect(errors.map((error) => error.code)).toEqual(['ENOENT']);
    expect(errors[0]!.message).toContain('cannot notify the service manager at NOTIFY_SOCKET=');
    const client = await connectTo(address, 'echo');
    expect((await client.request(1, Buffer.from('still here'))).toString()).toBe('still here');
    await client.close();
    await served.close();
    expect(errors.map((error) => error.code)).toEqual(['ENOENT', 'ENOENT']);
  });
});

describe.each(backendMatrix)('readiness turned off, server on $server', (pair) => {
  const { serverPoller } = useBackends(pair);

  it('sends nothing with notifyServiceManager: false', async () => {
    const notify = bindNotifySocket(`@pollux-notify-off-${process.pid}-${pair.server}-${pair.client}`);
    cleanups.push(notify.close);
    process.env['NOTIFY_SOCKET'] = notify.address;
    cleanups.push(() => delete process.env['NOTIFY_SOCKET']);
    const server = createServer({ poller: serverPoller(), notifyServiceManager: false });
    await server.listen(scratch().address);
    await server.close();
    // Datagrams arrive in order: the test's own is the first there is.
    expect(notifyServiceManager('MARK=1')).toBe(true);
    expect(await notify.next()).toBe('MARK=1');
  });
});

describe('notifyServiceManager', () => {
  beforeEach(() => {
    delete process.env['NOTIFY_SOCKET'];
  });
  afterEach(() => {
    delete process.env['NOTIFY_SOCKET'];
  });

  it('does nothing without NOTIFY_SOCKET', () => {
    expect(notifyServiceManager('READY=1')).toBe(false);
  });

  it('refuses a NOTIFY_SOCKET that is no Unix socket address', () => {
    process.env['NOTIFY_SOCKET'] = 'vsock:2:1234';
    expect(() => notifyServiceManager('READY=1')).toThrow(
      expect.objectContaining({ code: 'EAFNOSUPPORT', message: expect.stringContaining('NOTIFY_SOCKET=vsock:2:1234') }),
    );
    process.env['NOTIFY_SOCKET'] = `/${'x'.repeat(200)}`;
    expect(() => notifyServiceManager('READY=1')).toThrow(expect.objectContaining({ code: 'ENAMETOOLONG' }));
  });
});
