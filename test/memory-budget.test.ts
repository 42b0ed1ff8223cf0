import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fetchServerStats, INTROSPECTION_SERVICE_NAME, type IpcClient } from 'pollux';
import { serverBackendMatrix, useBackends } from './support/backends.js';
import { openFdCount } from './support/fds.js';
import { frame, hello } from './support/frames.js';
import { procStatusBytes } from './support/proc-status.js';
import { rawSocket, type RawSocket } from './support/raw-socket.js';
import { scratchSocket, until } from './support/server.js';

const MiB = 1024 * 1024;
const HOSTILE = 400;
/** The server's `maxBufferedBytes` under test. */
const BUDGET = 64 * MiB;
/** What the server's README promises on top of the budget: 64 KiB per connection. */
const PER_CONNECTION = 64 * 1024;
/**
 * What the runtime takes beside the buffered bytes, as the README documents it: freed buffers
 * (here: responses the kernel took) go back to the system only after V8 collects them and the C
 * allocator lets go, up to about 160 MiB later (seen: 93 MiB with both cores loaded, once 156 MiB
 * in a fresh-clone run), and each connection's own objects take up to 32 KiB. A server without the
 * budget would hold every hostile client's 1 MiB requests, 400 MiB at least.
 */
const RUNTIME_SLACK = 160 * MiB + HOSTILE * 32 * 1024;
/** A request of the largest size the server agrees to (its default 1 MiB). */
const LARGEST = frame(4, 1, 1, Buffer.alloc(MiB, 7));

describe.each(serverBackendMatrix)('server on $server, clients on $client', (pair) => {
  const { spawnFixture, connectTo } = useBackends(pair);
  let fdsBefore: number;
  const raws: RawSocket[] = [];
  const clients: IpcClient[] = [];

  beforeEach(() => {
    fdsBefore = openFdCount();
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.destroy();
    for (const raw of raws.splice(0)) {
      raw.socket.destroy();
      await raw.closed;
    }
    expect(openFdCount()).toBe(fdsBefore);
  });

  /** A raw client that says hello, then pipelines the largest requests and never reads. */
  function hostile(address: string): void {
    const raw = rawSocket(address);
    raws.push(raw);
    raw.socket.pause();
    const push = (): void => {
      while (raw.socket.writable && raw.socket.write(LARGEST));
    };
    raw.socket.on('drain', push);
    raw.socket.write(hello(1));
    push();
  }

  it(`holds its buffered bytes to maxBufferedBytes plus 64 KiB per connection under ${HOSTILE} clients that never read`, async () => {
    const socket = scratchSocket();
    const server = spawnFixture('budget-server', [socket.address, JSON.stringify({ maxBufferedBytes: BUDGET })]);
    try {
      const { pid } = (await server.next('listening')) as unknown as { pid: number };
      const base = procStatusBytes(pid, 'VmRSS');
      for (let i = 0; i < HOSTILE; i++) hostile(socket.address);
      // And one client floods a handler that never answers with the largest requests.
      const flooder = await connectTo(socket.address, 'echo');
      clients.push(flooder);
      for (let i = 0; i < 1024; i++) flooder.request(2, LARGEST.subarray(12)).catch(() => undefined);
      const inspector = await connectTo(socket.address, INTROSPECTION_SERVICE_NAME);
      clients.push(inspector);
      // The budget is spent: the server stopped reading those that hold more than their share.
      let stats = await fetchServerStats(inspector);
      while (!stats.readPaused) stats = await fetchServerStats(inspector);
      // A well-behaved client is still served.
      const polite = await connectTo(socket.address, 'echo');
      clients.push(polite);
      for (let i = 0; i < 20; i++)
        expect((await polite.request(1, Buffer.from(`polite ${i}`))).toString()).toBe(`polite ${i}`);
      const connections = HOSTILE + clients.length;
      const peak = procStatusBytes(pid, 'VmHWM');
      expect(peak - base).toBeLessThan(BUDGET + connections * PER_CONNECTION + RUNTIME_SLACK);
    } finally {
      server.child.kill('SIGKILL');
      await server.exited;
      socket.remove();
    }
    for (const raw of raws) raw.socket.destroy();
    await until(() => raws.every((raw) => raw.socket.destroyed));
  });
});
