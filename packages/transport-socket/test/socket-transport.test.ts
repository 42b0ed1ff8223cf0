import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IpcError, type Channel, type Listener } from '@pollux/core';
import * as sys from '@pollux/sys';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SocketTransport } from '../src/index.js';

const transport = new SocketTransport();
let dir: string;
const opened: (Listener | Channel)[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pollux-socket-'));
});

afterEach(() => {
  for (const endpoint of opened.splice(0)) endpoint.close();
  rmSync(dir, { recursive: true, force: true });
});

function listen(address: string, t = transport): Listener {
  const listener = t.listen(address);
  opened.push(listener);
  return listener;
}

async function connectTo(address: string): Promise<Channel> {
  const channel = await transport.connect(address);
  opened.push(channel);
  return channel;
}

function acceptOne(listener: Listener): Channel {
  const channel = listener.accept();
  if (typeof channel === 'number') throw new Error(`accept failed: ${channel}`);
  opened.push(channel);
  return channel;
}

describe('SocketTransport', () => {
  it('connects over a filesystem path, moves bytes both ways and reports peer credentials', async () => {
    const address = join(dir, 'a.sock');
    const listener = listen(address);
    expect(listener.accept()).toBe(-11); // nobody waiting: EAGAIN, not an exception
    const client = await connectTo(address);
    const server = acceptOne(listener);
    expect(server.credentials).toEqual({ pid: process.pid, uid: process.getuid!(), gid: process.getgid!() });
    expect(client.writev([Buffer.from('ping '), Buffer.from('pong')], 2)).toBe(9);
    const buffer = Buffer.alloc(16);
    expect(server.read(buffer, 2, 14)).toBe(9);
    expect(buffer.toString('utf8', 2, 11)).toBe('ping pong');
    expect(server.read(buffer, 0, 16)).toBe(-11);
    client.close();
    expect(server.read(buffer, 0, 16)).toBe(0);
  });

  it('removes its socket file on close, but not a file that replaced it', () => {
    const address = join(dir, 'b.sock');
    listen(address).close();
    expect(existsSync(address)).toBe(false);
    const listener = listen(address);
    rmSync(address);
    writeFileSync(address, 'not ours');
    listener.close();
    expect(existsSync(address)).toBe(true);
  });

  it('takes over a socket file left behind by a crashed server', async () => {
    const address = join(dir, 'stale.sock');
    const fd = sys.socketUnix();
    sys.bindUnix(fd, address, false);
    sys.listen(fd, 1);
    sys.close(fd); // the "crash": the file stays, nobody listens
    expect(statSync(address).isSocket()).toBe(true);
    const listener = listen(address);
    await connectTo(address);
    acceptOne(listener);
  });

  it('refuses an address where a server still answers, or a non-socket file is in the way', () => {
    const live = join(dir, 'live.sock');
    listen(live);
    expect(() => transport.listen(live)).toThrowError(expect.objectContaining({ code: 'EADDRINUSE' }));
    const file = join(dir, 'file');
    writeFileSync(file, 'precious');
    const failure = (() => {
      try {
        transport.listen(file);
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(failure).toBeInstanceOf(IpcError);
    expect(failure).toMatchObject({ code: 'EADDRINUSE' });
    expect(statSync(file).isFile()).toBe(true);
  });

  it('sets the socket file mode', () => {
    const address = join(dir, 'mode.sock');
    listen(address, new SocketTransport({ mode: 0o660 }));
    expect(statSync(address).mode & 0o777).toBe(0o660);
  });

  it('uses the abstract namespace for @names, with no file', async () => {
    const address = `@pollux-test-${process.pid}-${Date.now()}`;
    const listener = listen(address);
    expect(listener.address).toBe(address);
    await connectTo(address);
    acceptOne(listener);
    expect(() => transport.listen(address)).toThrowError(expect.objectContaining({ code: 'EADDRINUSE' }));
  });

  it('reports connect failures as IpcErrors that say what to do', async () => {
    await expect(transport.connect(join(dir, 'none.sock'))).rejects.toMatchObject({ code: 'ENOENT', message: expect.stringContaining('is the server running') });
    await expect(transport.connect('@pollux-nobody-here')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await expect(transport.connect('')).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(transport.connect(join(dir, 'x'.repeat(120)))).rejects.toMatchObject({ code: 'ENAMETOOLONG' });
    expect(() => transport.listen(join(dir, 'missing-dir', 'a.sock'))).toThrowError(expect.objectContaining({ code: 'ENOENT' }));
  });
});
