import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  SysError,
  accept,
  bindUnix,
  close,
  connectUnix,
  listen,
  peerCredentials,
  read,
  setCloseOnExec,
  setNonBlocking,
  shutdown,
  socketInfo,
  socketError,
  socketUnix,
  socketpair,
  writev,
} from '../src/index.js';
import { O_CLOEXEC, O_NONBLOCK, checkFdLeaks, fdFlags } from './fd-leak.js';

checkFdLeaks();

const EAGAIN = 11;
const ENOENT = 2;
const ECONNREFUSED = 111;
const ENAMETOOLONG = 36;

const dir = mkdtempSync(join(tmpdir(), 'pollux-sys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let unique = 0;
function abstractName(): string {
  unique += 1;
  return `pollux-sys-test-${process.pid}-${unique}-${Math.random().toString(36).slice(2)}`;
}

function catchSysError(fn: () => void): SysError {
  try {
    fn();
  } catch (error) {
    if (error instanceof SysError) return error;
    throw error;
  }
  throw new Error('expected a SysError');
}

/** A listening socket on `name`; returns its fd. */
function listener(name: string, abstract: boolean, backlog = 16): number {
  const fd = socketUnix();
  try {
    bindUnix(fd, name, abstract);
    listen(fd, backlog);
  } catch (error) {
    close(fd);
    throw error;
  }
  return fd;
}

function expectRoundTrip(from: number, to: number): void {
  expect(writev(from, [new TextEncoder().encode('ping')], 1)).toBe(4);
  const buffer = new Uint8Array(16);
  expect(read(to, buffer, 0, 16)).toBe(4);
  expect(new TextDecoder().decode(buffer.subarray(0, 4))).toBe('ping');
}

describe.each([
  ['filesystem path', false],
  ['abstract name', true],
] as const)('Unix sockets over a %s', (_label, abstract) => {
  let counter = 0;
  const name = (): string => {
    counter += 1;
    return abstract ? abstractName() : join(dir, `s${counter}.sock`);
  };

  it('connects, accepts and carries bytes both ways', () => {
    const address = name();
    const server = listener(address, abstract);
    expect(accept(server)).toBe(-EAGAIN);
    const client = socketUnix();
    expect(connectUnix(client, address, abstract)).toBe(0);
    const conn = accept(server);
    expect(conn).toBeGreaterThanOrEqual(0);
    expectRoundTrip(client, conn);
    expectRoundTrip(conn, client);
    expect(socketError(client)).toBe(0);
    for (const fd of [conn, client, server]) close(fd);
  });

  it('throws EADDRINUSE on a second bind to the same name', () => {
    const address = name();
    const server = listener(address, abstract);
    const second = socketUnix();
    const error = catchSysError(() => bindUnix(second, address, abstract));
    expect(error).toMatchObject({ code: 'EADDRINUSE', errno: 98, syscall: 'bind' });
    close(second);
    close(server);
  });

  it('returns -ECONNREFUSED when nobody listens', () => {
    const address = name();
    // A bound socket that is not listening leaves the path in place but refuses.
    const bound = socketUnix();
    bindUnix(bound, address, abstract);
    const client = socketUnix();
    expect(connectUnix(client, address, abstract)).toBe(-ECONNREFUSED);
    close(client);
    close(bound);
    if (abstract) {
      const again = socketUnix();
      expect(connectUnix(again, address, abstract)).toBe(-ECONNREFUSED);
      close(again);
    }
  });

  it('returns -EAGAIN when the backlog is full', () => {
    const address = name();
    const server = listener(address, abstract, 0);
    const clients: number[] = [];
    let result = 0;
    while (result === 0 && clients.length < 64) {
      const client = socketUnix();
      clients.push(client);
      result = connectUnix(client, address, abstract);
    }
    expect(result).toBe(-EAGAIN);
    for (const fd of clients) close(fd);
    close(server);
  });

  it('reports ENAMETOOLONG past 107 name bytes', () => {
    const fd = socketUnix();
    const long = abstract ? 'x'.repeat(108) : join(dir, 'y'.repeat(120));
    expect(catchSysError(() => bindUnix(fd, long, abstract))).toMatchObject({
      code: 'ENAMETOOLONG',
      syscall: 'bind',
    });
    expect(connectUnix(fd, long, abstract)).toBe(-ENAMETOOLONG);
    close(fd);
  });
});

describe('names', () => {
  it('uses exact lengths for abstract names: 107 bytes fit, a trailing NUL is significant', () => {
    const base = abstractName();
    const longest = base + 'z'.repeat(107 - base.length);
    const server = listener(longest, true);
    const client = socketUnix();
    expect(connectUnix(client, longest, true)).toBe(0);
    const other = socketUnix();
    expect(connectUnix(other, `${base}\0`, true)).toBe(-ECONNREFUSED);
    const conn = accept(server);
    expect(peerCredentials(conn).pid).toBe(process.pid);
    for (const fd of [conn, other, client, server]) close(fd);
  });

  it('returns -ENOENT for a missing path and refuses an empty one', () => {
    const fd = socketUnix();
    expect(connectUnix(fd, join(dir, 'missing.sock'), false)).toBe(-ENOENT);
    expect(connectUnix(fd, '', false)).toBe(-ENOENT);
    expect(catchSysError(() => bindUnix(fd, '', false)).code).toBe('ENOENT');
    expect(() => bindUnix(fd, 'a\0b', false)).toThrow(TypeError);
    expect(() => bindUnix(fd, 42 as unknown as string, false)).toThrow(TypeError);
    close(fd);
  });
});

describe('socket setup', () => {
  it('creates non-blocking, close-on-exec sockets, socketpairs and accepted fds', () => {
    const [a, b] = socketpair();
    const server = listener(abstractName(), true);
    const fds = [a, b, server];
    for (const fd of fds) expect(fdFlags(fd) & (O_NONBLOCK | O_CLOEXEC)).toBe(O_NONBLOCK | O_CLOEXEC);
    for (const fd of fds) close(fd);
  });

  it('accept4 gives the accepted fd O_NONBLOCK and O_CLOEXEC', () => {
    const address = abstractName();
    const server = listener(address, true);
    const client = socketUnix();
    expect(connectUnix(client, address, true)).toBe(0);
    const conn = accept(server);
    expect(fdFlags(conn) & (O_NONBLOCK | O_CLOEXEC)).toBe(O_NONBLOCK | O_CLOEXEC);
    for (const fd of [conn, client, server]) close(fd);
  });

  it('reports the peer credentials of this process', () => {
    const [a, b] = socketpair();
    expect(peerCredentials(a)).toEqual({ pid: process.pid, uid: process.getuid?.(), gid: process.getgid?.() });
    expect(peerCredentials(b).pid).toBe(process.pid);
    close(a);
    close(b);
  });

  it('toggles O_NONBLOCK', () => {
    const [a, b] = socketpair();
    setNonBlocking(a, false);
    expect(fdFlags(a) & O_NONBLOCK).toBe(0);
    setNonBlocking(a, true);
    expect(fdFlags(a) & O_NONBLOCK).toBe(O_NONBLOCK);
    expect(read(a, new Uint8Array(1), 0, 1)).toBe(-EAGAIN);
    close(a);
    close(b);
  });

  it('toggles FD_CLOEXEC', () => {
    const [a, b] = socketpair();
    setCloseOnExec(a, false);
    expect(fdFlags(a) & O_CLOEXEC).toBe(0);
    setCloseOnExec(a, true);
    expect(fdFlags(a) & O_CLOEXEC).toBe(O_CLOEXEC);
    close(a);
    close(b);
    expect(catchSysError(() => setCloseOnExec(a, true)).code).toBe('EBADF');
  });

  it('tells a connected, a listening and an unconnected Unix stream socket apart, and a file from a socket', () => {
    const [a, b] = socketpair();
    const server = listener(abstractName(), true);
    const fresh = socketUnix();
    expect(socketInfo(a)).toEqual({ family: 'unix', type: 'stream', listening: false, connected: true, address: '' });
    expect(socketInfo(server)).toMatchObject({ family: 'unix', listening: true, connected: false });
    expect(socketInfo(fresh)).toMatchObject({ listening: false, connected: false });
    const file = openSync('/dev/null', 'r');
    expect(catchSysError(() => socketInfo(file)).code).toBe('ENOTSOCK');
    for (const fd of [a, b, server, fresh]) close(fd);
    closeSync(file);
    expect(catchSysError(() => socketInfo(a)).code).toBe('EBADF');
  });

  it('shutdown(write) gives the peer EOF while the other direction still works', () => {
    const [a, b] = socketpair();
    shutdown(a, 'write');
    expect(read(b, new Uint8Array(4), 0, 4)).toBe(0);
    expectRoundTrip(b, a);
    shutdown(a, 'both');
    expect(() => shutdown(a, 'sideways' as 'both')).toThrow(TypeError);
    close(a);
    close(b);
  });

  it('throws SysError on a closed fd', () => {
    const [a, b] = socketpair();
    close(a);
    close(b);
    expect(catchSysError(() => close(a)).code).toBe('EBADF');
    expect(catchSysError(() => listen(a, 1)).syscall).toBe('listen');
    expect(catchSysError(() => peerCredentials(a)).code).toBe('EBADF');
    expect(catchSysError(() => socketError(a)).code).toBe('EBADF');
    expect(catchSysError(() => setNonBlocking(a, true)).syscall).toBe('fcntl');
    expect(catchSysError(() => shutdown(a, 'both')).code).toBe('EBADF');
    expect(accept(a)).toBe(-9);
  });
});
