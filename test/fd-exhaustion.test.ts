import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { IpcClient } from 'pollux';
import type { Peer } from './support/peer.js';
import { backendMatrix, useBackends } from './support/backends.js';

describe.each(backendMatrix)('server on $server, clients on $client', (pair) => {
  const { connectTo, spawnFixture } = useBackends(pair);
  let server: Peer | undefined;
  let dir: string | undefined;
  const clients: IpcClient[] = [];

  afterEach(async () => {
    for (const client of clients.splice(0)) client.destroy();
    server?.child.kill('SIGKILL');
    await server?.exited;
    server = undefined;
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('pauses accepting when out of fds, keeps serving, and admits the waiting client once an fd is free', async () => {
    dir = mkdtempSync(join(tmpdir(), 'pollux-emfile-'));
    const address = join(dir, 'server.sock');
    server = spawnFixture('fd-starved-server', [address]);
    const { lowestFree } = (await server.next('listening')) as unknown as { lowestFree: number };
    // Room for exactly two more connections.
    const limit = lowestFree + 2;
    execFileSync('prlimit', ['--pid', String(server.pid), `--nofile=${limit}:${limit}`]);
    const connect = async (): Promise<IpcClient> => {
      const client = await connectTo(address, 'echo');
      clients.push(client);
      return client;
    };
    const first = await connect();
    const second = await connect();
    const waiting = connect();
    expect(await server.next('server-error')).toMatchObject({ code: 'EMFILE' });
    // The connections it holds are still served while accepting is paused.
    expect((await second.request(1, Buffer.from('still served'))).toString()).toBe('still served');
    await first.close();
    const third = await waiting;
    expect((await third.request(1, Buffer.from('admitted'))).toString()).toBe('admitted');
  });
});
