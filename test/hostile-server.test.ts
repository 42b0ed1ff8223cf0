import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as sys from '@pollux/sys';
import { IpcError } from 'pollux';
import { openFdCount } from './support/fds.js';
import { until } from './support/server.js';
import { frame, welcome } from './support/frames.js';
import { backendMatrix, useBackends } from './support/backends.js';

describe.each(backendMatrix)('server on $server, clients on $client', (pair) => {
  const { connectTo } = useBackends(pair);

  let dir: string;
  let fdsBefore: number;
  let fake: Server | undefined;

  beforeEach(() => {
    fdsBefore = openFdCount();
    dir = mkdtempSync(join(tmpdir(), 'pollux-fake-'));
  });

  afterEach(async () => {
    await new Promise<void>((resolve) => (fake ? fake.close(() => resolve()) : resolve()));
    fake = undefined;
    rmSync(dir, { recursive: true, force: true });
    expect(openFdCount()).toBe(fdsBefore);
  });

  /** A fake server that runs `script` on each connection once the client's hello has arrived. */
  async function fakeServer(script: (socket: Socket, firstRequestId: Promise<number>) => void): Promise<string> {
    const address = join(dir, 'fake.sock');
    fake = createNetServer((socket) => {
      socket.on('error', () => undefined);
      let seen = Buffer.alloc(0);
      let resolveId!: (id: number) => void;
      const firstRequestId = new Promise<number>((resolve) => (resolveId = resolve));
      let greeted = false;
      socket.on('data', (chunk) => {
        seen = Buffer.concat([seen, chunk]);
        if (!greeted && seen.length >= 12 + 16) {
          greeted = true;
          script(socket, firstRequestId);
        }
        const helloLength = 12 + seen.readUInt32LE(0);
        if (seen.length >= helloLength + 12) resolveId(seen.readUInt32LE(helloLength + 8));
      });
    });
    await new Promise<void>((resolve) => fake!.listen(address, resolve));
    return address;
  }

  describe('a broken or hostile server', () => {
    it('a server that stops reading: destroy() closes the fds of every request still queued', async () => {
      let serverSide: Socket | undefined;
      const address = await fakeServer((socket) => {
        serverSide = socket;
        socket.write(welcome(1 << 20, 1, 'raw', 1));
        socket.pause();
      });
      const client = await connectTo(address, 1);
      const [near, far] = sys.socketpair();
      const payload = Buffer.alloc(16 * 1024);
      const settled = Array.from({ length: 100 }, () =>
        client.request(1, payload, { fds: [far!] }).catch((error: unknown) => error),
      );
      sys.close(far!);
      // The kernel takes a few hundred KiB; the rest, and the duplicates of `far`, wait in the client.
      expect(client.flowControlled || openFdCount() > fdsBefore + 10).toBe(true);
      client.destroy();
      for (const outcome of await Promise.all(settled)) expect(outcome).toBeInstanceOf(IpcError);
      serverSide!.destroy();
      // No copy of `far` is left: not queued in the client, not in flight to the dead connection.
      const buffer = Buffer.alloc(1);
      await until(() => sys.read(near!, buffer, 0, 1) === 0);
      sys.close(near!);
    });

    it('rejects a pending request whose error response is malformed, and closes', async () => {
      const address = await fakeServer((socket, firstRequestId) => {
        socket.write(welcome(4096));
        void firstRequestId.then((id) => socket.write(frame(6, 0, id, Buffer.from([3, 0x78, 0x79, 0x7a]))));
      });
      const client = await connectTo(address, 1);
      const closed = new Promise<IpcError>((resolve) => client.once('close', resolve));
      const failure = await client.request(0).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(IpcError);
      expect((await closed).code).toBe('EPROTO');
      expect(client.pendingRequests).toBe(0);
    });

    it('refuses a welcome that agrees a bigger message size than asked for', async () => {
      const address = await fakeServer((socket) => socket.write(welcome(0xffffffff)));
      await expect(connectTo(address, 1, { maxMessageSize: 4096 })).rejects.toMatchObject({ code: 'EPROTO' });
    });

    it('refuses, by default, a welcome that agrees more than 1 MiB per message', async () => {
      const address = await fakeServer((socket) => socket.write(welcome(200 * 1024 * 1024)));
      await expect(connectTo(address, 1)).rejects.toMatchObject({ code: 'EPROTO' });
      const asked = await connectTo(address, 1, { maxMessageSize: 200 * 1024 * 1024 });
      expect(asked.maxMessageSize).toBe(200 * 1024 * 1024);
      asked.destroy();
    });

    it('refuses a welcome to another service than it asked for, by id or by name', async () => {
      const address = await fakeServer((socket) => socket.write(welcome(4096, 2, 'other')));
      await expect(connectTo(address, 1)).rejects.toMatchObject({
        code: 'EPROTO',
        message: expect.stringContaining('not the service 1 '),
      });
      await expect(connectTo(address, 'echo')).rejects.toMatchObject({
        code: 'EPROTO',
        message: expect.stringContaining('"other"'),
      });
      const matching = await connectTo(address, 'other');
      expect(matching.serviceId).toBe(2);
      matching.destroy();
    });

    it('fails the connect when the server answers the hello with garbage', async () => {
      const address = await fakeServer((socket) => socket.write(Buffer.from('SSH-2.0-OpenSSH_9.2\r\n')));
      await expect(connectTo(address, 1)).rejects.toMatchObject({ code: 'EPROTO' });
    });

    it('honours an abort that comes while the server says nothing', async () => {
      const address = await fakeServer(() => undefined);
      const abort = new AbortController();
      const connecting = connectTo(address, 1, { signal: abort.signal, timeout: 60_000 });
      abort.abort();
      await expect(connecting).rejects.toMatchObject({ code: 'ECANCELED' });
    });

    it('times out a handshake the server never completes', async () => {
      const address = await fakeServer(() => undefined);
      await expect(connectTo(address, 1, { timeout: 50 })).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    });

    it('delivers an event that arrives together with the welcome', async () => {
      const address = await fakeServer((socket) =>
        socket.write(Buffer.concat([welcome(4096), frame(7, 9, 0, Buffer.from('early'))])),
      );
      const client = await connectTo(address, 1);
      const event = await new Promise<string>((resolve) =>
        client.once('event', (id, payload) => resolve(`${id}:${payload.toString()}`)),
      );
      expect(event).toBe('9:early');
      client.destroy();
    });
  });
});
