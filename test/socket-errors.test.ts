// What a user who may not take an address is told: run as uid 65534 against files root owns.
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sys from '@pollux/sys';
import { SocketTransport } from '@pollux/transport-socket';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openFdCount } from './support/fds.js';
import { spawnPeer } from './support/peer.js';

const asNobody = { uid: 65534, gid: 65534 };

describe('socket address errors for another user', () => {
  let dir: string;
  let fdsBefore: number;

  beforeEach(() => {
    fdsBefore = openFdCount();
    dir = mkdtempSync(join(tmpdir(), 'pollux-perm-'));
    chmodSync(dir, 0o755);
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
    expect(openFdCount()).toBe(fdsBefore);
  });

  async function listenAsNobody(address: string): Promise<Record<string, unknown>> {
    const peer = spawnPeer('listener', [address], asNobody);
    const outcome = await Promise.race([peer.next('refused'), peer.next('listening')]);
    await peer.exited;
    return outcome;
  }

  /** A socket file at `path` that nobody listens on any more, with file mode `mode`. */
  function leftOverSocket(path: string, mode: number): void {
    const fd = sys.socketUnix();
    sys.bindUnix(fd, path, false);
    sys.close(fd);
    chmodSync(path, mode);
  }

  it('names the directory it may not create a socket in', async () => {
    const locked = join(dir, 'root-only');
    mkdirSync(locked, { mode: 0o755 });
    expect(await listenAsNobody(join(locked, 'a.sock'))).toMatchObject({
      isIpcError: true,
      code: 'EACCES',
      message: `cannot listen on ${join(locked, 'a.sock')}: no permission to create a socket file in ${locked} (it takes write and search access there, and search access above): listen as a user who has it, or pick another directory`,
    });
  });

  it('says a left-over socket file it may not remove stays, and what to do', async () => {
    // World-writable with the sticky bit, like /tmp: anyone may create, only owners remove.
    chmodSync(dir, 0o1777);
    const address = join(dir, 'stale.sock');
    leftOverSocket(address, 0o777);
    expect(await listenAsNobody(address)).toMatchObject({
      isIpcError: true,
      code: 'EPERM',
      message: `${address} is a socket file left by a server that stopped, and this process cannot remove it (EPERM): remove it as its owner, or pick another address`,
    });
  });

  it('tells a client without write access to the socket file to check its mode and owner', async () => {
    const address = join(dir, 'server.sock');
    const listener = new SocketTransport({ mode: 0o755 }).listen(address);
    try {
      const peer = spawnPeer('client', ['connect', address, 'echo'], asNobody);
      expect(await peer.next('refused')).toMatchObject({
        isIpcError: true,
        code: 'EACCES',
        message: `no permission to connect to ${address}: check the socket's mode and owner, and search access to ${dir}`,
      });
      await peer.exited;
    } finally {
      listener.close();
    }
  });

  it('says it cannot tell whether a server is behind a socket file it may not connect to', async () => {
    chmodSync(dir, 0o1777);
    const address = join(dir, 'private.sock');
    leftOverSocket(address, 0o755);
    expect(await listenAsNobody(address)).toMatchObject({
      isIpcError: true,
      code: 'EADDRINUSE',
      message: expect.stringContaining(
        `${address} is a socket file this process may not connect to, so whether a server still listens there is unknown`,
      ),
    });
  });
});
