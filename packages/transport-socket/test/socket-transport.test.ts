import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IpcError, type Channel, type Listener } from '@pollux/core';
import * as sys from '@pollux/sys';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openFdCount } from '../../../test/support/fds.js';
import { SocketTransport } from '../src/index.js';

const transport = new SocketTransport();
let dir: string;
let fdsBefore: number;
const opened: (Listener | Channel)[] = [];

beforeEach(() => {
  fdsBefore = openFdCount();
  dir = mkdtempSync(join(tmpdir(), 'pollux-socket-'));
});

afterEach(() => {
  for (const endpoint of opened.splice(0)) endpoint.close();
  rmSync(dir, { recursive: true, force: true });
  expect(openFdCount(), 'fds leaked by this test').toBe(fdsBefore);
});

/** What `fn` throws. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

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

const nobody = 65534;

/** What a process running as nobody meets when it connects to `address`: 'connected' or an errno code. */
async function connectAsNobody(address: string): Promise<string> {
  const script = `require('node:net').connect(process.argv[1])
    .on('connect', function () { process.stdout.write('connected'); this.destroy(); })
    .on('error', (error) => process.stdout.write(error.code));`;
  const child = spawn(process.execPath, ['-e', script, address], {
    uid: nobody,
    gid: nobody,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  await new Promise((resolve) => child.on('close', resolve));
  return output;
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
    expect(thrown(() => transport.listen(live))).toMatchObject({
      code: 'EADDRINUSE',
      message: `another server is listening on ${live}: stop it, or pick another address`,
    });
    const file = join(dir, 'file');
    writeFileSync(file, 'precious');
    const failure = thrown(() => transport.listen(file));
    expect(failure).toBeInstanceOf(IpcError);
    expect(failure).toMatchObject({
      code: 'EADDRINUSE',
      message: `${file} exists and is not a socket: remove it if nothing needs it, or pick another address`,
    });
    expect(statSync(file).isFile()).toBe(true);
  });

  it('sets the socket file mode', () => {
    const address = join(dir, 'mode.sock');
    listen(address, new SocketTransport({ mode: 0o660 }));
    expect(statSync(address).mode & 0o777).toBe(0o660);
  });

  it('gives the socket file its owner, group and mode before it appears, so they decide who may connect', async () => {
    chmodSync(dir, 0o755);
    const ownedByNobody = join(dir, 'owner.sock');
    listen(ownedByNobody, new SocketTransport({ owner: nobody, mode: 0o600 }));
    expect(statSync(ownedByNobody)).toMatchObject({ uid: nobody, gid: process.getgid!(), mode: 0o140600 });
    const groupOnly = join(dir, 'group.sock');
    listen(groupOnly, new SocketTransport({ group: nobody, mode: 0o660 }));
    expect(statSync(groupOnly)).toMatchObject({ uid: process.getuid!(), gid: nobody, mode: 0o140660 });
    const ownerOnly = join(dir, 'private.sock');
    listen(ownerOnly, new SocketTransport({ group: nobody, mode: 0o600 }));
    expect(statSync(ownerOnly)).toMatchObject({ gid: nobody, mode: 0o140600 });
    // Nothing of the private directories the sockets were bound in is left.
    expect(readdirSync(dir).sort()).toEqual(['group.sock', 'owner.sock', 'private.sock']);
    expect(await connectAsNobody(ownedByNobody)).toBe('connected');
    expect(await connectAsNobody(groupOnly)).toBe('connected');
    expect(await connectAsNobody(ownerOnly)).toBe('EACCES');
  });

  it('takes over a stale socket file, and refuses a live one, when it sets file attributes', async () => {
    const withMode = new SocketTransport({ mode: 0o600 });
    const address = join(dir, 'stale-mode.sock');
    const fd = sys.socketUnix();
    sys.bindUnix(fd, address, false);
    sys.close(fd); // bound but never listening: what a crashed server leaves
    const listener = listen(address, withMode);
    expect(statSync(address).mode & 0o777).toBe(0o600);
    expect(thrown(() => withMode.listen(address))).toMatchObject({
      code: 'EADDRINUSE',
      message: `another server is listening on ${address}: stop it, or pick another address`,
    });
    await connectTo(address);
    acceptOne(listener);
    expect(readdirSync(dir)).toEqual(['stale-mode.sock']);
  });

  it('refuses file attributes it cannot apply with errors that say what to do', () => {
    expect(thrown(() => new SocketTransport({ owner: -1 }))).toMatchObject({
      code: 'EINVAL',
      message: 'owner must be a numeric id in 0–4294967294, got -1: look names up to their ids first',
    });
    expect(thrown(() => new SocketTransport({ mode: 0o4777 }))).toMatchObject({ code: 'EINVAL' });
    expect(thrown(() => new SocketTransport({ group: 'wheel' as never }))).toMatchObject({ code: 'EINVAL' });
    const address = `@pollux-test-attributes-${process.pid}`;
    expect(thrown(() => new SocketTransport({ group: nobody }).listen(address))).toMatchObject({
      code: 'EINVAL',
      message: `${address} is an abstract address, which has no file to give a mode, owner or group: listen on a filesystem path to control who may connect by file permissions, or drop those options`,
    });
  });

  it('uses the abstract namespace for @names, with no file', async () => {
    const address = `@pollux-test-${process.pid}-${Date.now()}`;
    const listener = listen(address);
    expect(listener.address).toBe(address);
    await connectTo(address);
    acceptOne(listener);
    expect(thrown(() => transport.listen(address))).toMatchObject({
      code: 'EADDRINUSE',
      message: `another server is listening on ${address}: stop it, or pick another address`,
    });
  });

  it('reports connect failures as IpcErrors that say what to do', async () => {
    await expect(transport.connect(join(dir, 'none.sock'))).rejects.toMatchObject({
      code: 'ENOENT',
      message: expect.stringContaining('is the server running'),
    });
    await expect(transport.connect('@pollux-nobody-here')).rejects.toMatchObject({
      code: 'ECONNREFUSED',
      message: 'no server listens on @pollux-nobody-here: start it, or check the name',
    });
    await expect(transport.connect('')).rejects.toMatchObject({
      code: 'EINVAL',
      message: expect.stringContaining('is empty: give a path'),
    });
  });

  it('says a socket file nobody listens on is left over, and that the server replaces it', async () => {
    const address = join(dir, 'stale.sock');
    const fd = sys.socketUnix();
    sys.bindUnix(fd, address, false);
    sys.close(fd);
    await expect(transport.connect(address)).rejects.toMatchObject({
      code: 'ECONNREFUSED',
      message: expect.stringMatching(
        /^nothing listens at .*stale\.sock \(a socket file left by a server that stopped.*start the server \(it replaces a left-over file\)/,
      ),
    });
  });

  it('refuses a path with a NUL byte with EINVAL before any socket exists, for connect and listen', async () => {
    const address = join(dir, 'a\0b.sock');
    for (let i = 0; i < 5; i++) {
      const failure = await transport.connect(address).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(IpcError);
      expect(failure).toMatchObject({ code: 'EINVAL', message: expect.stringContaining('contains a NUL byte') });
      expect(thrown(() => transport.listen(address))).toMatchObject({
        code: 'EINVAL',
        message: expect.stringContaining('contains a NUL byte'),
      });
    }
    expect(openFdCount()).toBe(fdsBefore);
    // An abstract name is any bytes, NUL included.
    const abstract = `@pollux-nul-${process.pid}\0x`;
    const listener = listen(abstract);
    await connectTo(abstract);
    acceptOne(listener);
  });

  it('names the directory that is missing and says what to do', async () => {
    const missing = join(dir, 'missing-dir');
    expect(thrown(() => transport.listen(join(missing, 'a.sock')))).toMatchObject({
      code: 'ENOENT',
      message: `cannot listen on ${join(missing, 'a.sock')}: directory ${missing} does not exist: create it, or pick an address in a directory that exists`,
    });
    const file = join(dir, 'plain');
    writeFileSync(file, '');
    expect(thrown(() => transport.listen(join(file, 'a.sock')))).toMatchObject({
      code: 'ENOTDIR',
      message: expect.stringContaining(`a component of ${file} is not a directory`),
    });
  });

  it('says how long an address may be, for paths and abstract names', async () => {
    const path = join(dir, 'x'.repeat(120));
    const tooLong = {
      code: 'ENAMETOOLONG',
      message: expect.stringMatching(/is \d+ bytes, more than the 107 a Unix socket address holds: use a shorter path/),
    };
    await expect(transport.connect(path)).rejects.toMatchObject(tooLong);
    expect(thrown(() => transport.listen(path))).toMatchObject(tooLong);
    const name = `@${'n'.repeat(108)}`;
    expect(thrown(() => transport.listen(name))).toMatchObject({
      code: 'ENAMETOOLONG',
      message: expect.stringContaining(
        'is 108 bytes, more than the 107 a Unix socket address holds: use a shorter name',
      ),
    });
    const longest = `@${'n'.repeat(100)}-${String(process.pid).padStart(6, '0')}`;
    listen(longest);
  });
});
