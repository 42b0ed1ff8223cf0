// Connections made elsewhere: a transport takes over a connected fd, a server adopts it, a client
// connects over `fd:N`; anything that is not a connected Unix stream socket is refused clearly.
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import * as sys from '@pollux/sys';
import { handOverInherited, receiveHandOver } from '@pollux/transport-socket';
import { createServer, SocketTransport, type IpcClient, type IpcServer } from 'pollux';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { backendMatrix, useBackends } from './support/backends.js';
import { nextEvent } from './support/client-events.js';
import { openFdCount } from './support/fds.js';
import { deferred, until } from './support/server.js';

const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;

/** The flags of `fd`, from /proc/self/fdinfo. */
function fdFlags(fd: number): number {
  return Number.parseInt(/^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!, 8);
}

let fdsBefore = 0;
beforeEach(() => {
  fdsBefore = openFdCount();
});

describe('SocketTransport.adopt', () => {
  const transport = new SocketTransport();

  afterEach(() => {
    expect(openFdCount(), 'fds leaked by this test').toBe(fdsBefore);
  });

  it('takes over a blocking, inheritable socketpair end: non-blocking, close-on-exec, credentials from the kernel', () => {
    const [a, b] = sys.socketpair();
    sys.setNonBlocking(a, false);
    sys.setCloseOnExec(a, false);
    const channel = transport.adopt(a);
    expect(channel.fd).toBe(a);
    expect(fdFlags(a) & (O_NONBLOCK | O_CLOEXEC)).toBe(O_NONBLOCK | O_CLOEXEC);
    expect(channel.credentials).toEqual({ pid: process.pid, uid: process.getuid!(), gid: process.getgid!() });
    expect(channel.read(Buffer.alloc(1), 0, 1)).toBe(-11);
    channel.close();
    sys.close(b);
  });

  it('refuses an fd that is not open, or not an fd at all, with EBADF', () => {
    const [a, b] = sys.socketpair();
    sys.close(a);
    sys.close(b);
    expect(() => transport.adopt(a)).toThrowError(
      expect.objectContaining({
        code: 'EBADF',
        message: expect.stringContaining(`fd ${a} is not open in this process`),
      }),
    );
    for (const bad of [-1, 1.5, Number.NaN]) {
      expect(() => transport.adopt(bad)).toThrowError(
        expect.objectContaining({ code: 'EBADF', message: expect.stringContaining('pass the number of an open fd') }),
      );
    }
  });

  it('refuses a file with ENOTSOCK and leaves it open, still the caller’s', () => {
    const file = openSync('/dev/null', 'r');
    expect(() => transport.adopt(file)).toThrowError(
      expect.objectContaining({
        code: 'ENOTSOCK',
        message: `fd ${file} is not a socket: pass one end of a Unix socketpair or a connected Unix socket`,
      }),
    );
    closeSync(file);
  });

  it('refuses a socket that is not connected, or only listens, with ENOTCONN', () => {
    const fresh = sys.socketUnix();
    const listening = sys.socketUnix();
    sys.bindUnix(listening, `pollux-adopt-${process.pid}`, true);
    sys.listen(listening, 1);
    expect(() => transport.adopt(fresh)).toThrowError(
      expect.objectContaining({ code: 'ENOTCONN', message: expect.stringContaining('connect it first') }),
    );
    expect(() => transport.adopt(listening)).toThrowError(
      expect.objectContaining({ code: 'ENOTCONN', message: expect.stringContaining('is a listening socket') }),
    );
    sys.close(fresh);
    sys.close(listening);
  });

  it('refuses a socket of another family with EPROTOTYPE', async () => {
    const tcp: TcpServer = createTcpServer();
    await new Promise<void>((resolve) => tcp.listen({ host: '127.0.0.1', port: 0 }, resolve));
    try {
      const fd = (tcp as unknown as { _handle: { fd: number } })._handle.fd;
      expect(() => transport.adopt(fd)).toThrowError(
        expect.objectContaining({ code: 'EPROTOTYPE', message: expect.stringContaining('not a Unix stream socket') }),
      );
    } finally {
      await new Promise((resolve) => tcp.close(resolve));
    }
  });

  it('connects fd:N once: a second connect to it fails with EBADF instead of taking whatever has that number', async () => {
    const [a, b] = sys.socketpair();
    const channel = await transport.connect(`fd:${a}`);
    expect(channel.fd).toBe(a);
    await expect(transport.connect(`fd:${a}`)).rejects.toMatchObject({
      code: 'EBADF',
      message: expect.stringContaining('already taken over by this transport'),
    });
    channel.close();
    sys.close(b);
    await expect(transport.connect('fd:three')).rejects.toMatchObject({
      code: 'EINVAL',
      message: expect.stringContaining('write fd:<number>'),
    });
  });
});

describe('the hand-over over a bootstrap socketpair', () => {
  afterEach(() => {
    expect(openFdCount(), 'fds leaked by this test').toBe(fdsBefore);
  });

  it('gives the receiver the end of a new connection, and closes the sender’s bootstrap', () => {
    const [parentEnd, childEnd] = sys.socketpair();
    expect(receiveHandOver(parentEnd)).toBeUndefined();
    const childChannel = handOverInherited(childEnd);
    expect(childChannel.fd).not.toBe(childEnd);
    const parentChannel = receiveHandOver(parentEnd)!;
    sys.close(parentEnd);
    expect(childChannel.writev([Buffer.from('hi')], 1)).toBe(2);
    const buffer = Buffer.alloc(4);
    expect(parentChannel.read(buffer, 0, 4)).toBe(2);
    expect(buffer.toString('latin1', 0, 2)).toBe('hi');
    expect(parentChannel.credentials.pid).toBe(process.pid);
    parentChannel.close();
    childChannel.close();
  });

  it('says ECONNRESET when the sender closed without handing over, ECONNRESET to a sender whose receiver is gone', () => {
    const [parentEnd, childEnd] = sys.socketpair();
    sys.close(childEnd);
    expect(() => receiveHandOver(parentEnd)).toThrowError(expect.objectContaining({ code: 'ECONNRESET' }));
    sys.close(parentEnd);
    const [gone, orphan] = sys.socketpair();
    sys.close(gone);
    expect(() => handOverInherited(orphan)).toThrowError(expect.objectContaining({ code: 'ECONNRESET' }));
  });

  it('refuses anything but one connected socket with EPROTO, closing every fd that came', () => {
    const file = openSync('/dev/null', 'r');
    for (const [bytes, fds] of [
      ['P', [file]],
      ['P', [file, file]],
      ['x', []],
    ] as const) {
      const [parentEnd, childEnd] = sys.socketpair();
      expect(sys.sendmsg(childEnd, [Buffer.from(bytes)], 1, fds)).toBe(1);
      expect(() => receiveHandOver(parentEnd)).toThrowError(
        expect.objectContaining({ code: 'EPROTO', message: expect.stringContaining('does not speak pollux') }),
      );
      sys.close(parentEnd);
      sys.close(childEnd);
    }
    closeSync(file);
  });
});

describe.each(backendMatrix)('IpcServer.adopt, server on $server, clients on $client', (pair) => {
  const { serverPoller, connectTo } = useBackends(pair);
  let server: IpcServer | undefined;
  let client: IpcClient | undefined;

  afterEach(async () => {
    await client?.close();
    await server?.close();
    client = undefined;
    server = undefined;
    expect(openFdCount(), 'fds leaked by this test').toBe(fdsBefore);
  });

  it('serves requests and events over an adopted socketpair, runs closed once when the client goes', async () => {
    const closed: string[] = [];
    const created = deferred<void>();
    server = createServer({ poller: serverPoller() });
    const echo = server.addService<{ pid: number }>({
      id: 1,
      name: 'echo',
      createContext: (credentials) => ({ pid: credentials.pid }),
      created: () => created.resolve(),
      closed: (connection) => closed.push(`closed ${connection.context.pid}`),
      commands: { 1: (payload) => payload },
    });
    const [serverEnd, clientEnd] = sys.socketpair();
    server.adopt(new SocketTransport().adopt(serverEnd));
    client = await connectTo(`fd:${clientEnd}`, 'echo');
    await created.promise;
    expect((await client.request(1, Buffer.from('ping'))).toString()).toBe('ping');
    const event = nextEvent(client, 'event');
    echo.broadcast(7, Buffer.from('news'));
    const [id, payload] = await event;
    expect([id, payload.toString()]).toEqual([7, 'news']);
    expect(server.connections()).toMatchObject([{ serviceId: 1, credentials: { pid: process.pid } }]);
    await client.close();
    client = undefined;
    await until(() => closed.length > 0);
    expect(closed).toEqual([`closed ${process.pid}`]);
    expect(server.stats()).toMatchObject({ connections: 0, accepted: 1, closed: 1 });
  });

  it('refuses to adopt after close with ESHUTDOWN, closing the channel it was given', async () => {
    server = createServer({ poller: serverPoller() });
    await server.close();
    const [serverEnd, clientEnd] = sys.socketpair();
    expect(() => server!.adopt(new SocketTransport().adopt(serverEnd))).toThrowError(
      expect.objectContaining({ code: 'ESHUTDOWN' }),
    );
    // The server closed its end: the other one reads the end of the stream.
    expect(sys.read(clientEnd, Buffer.alloc(1), 0, 1)).toBe(0);
    sys.close(clientEnd);
  });
});
