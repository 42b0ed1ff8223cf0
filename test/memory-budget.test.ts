import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fetchConnections, fetchServerStats, INTROSPECTION_SERVICE_NAME, type IpcClient } from 'pollux';
import { serverBackendMatrix, useBackends } from './support/backends.js';
import { openFdCount } from './support/fds.js';
import { frame, hello } from './support/frames.js';
import { procStatusBytes } from './support/proc-status.js';
import { rawSocket, type RawSocket } from './support/raw-socket.js';
import { scratchSocket, until } from './support/server.js';

const MiB = 1024 * 1024;
const HOSTILE = 400;
/** Clients that send a frame's header and its first KiB, then nothing. */
const HEADERS_ONLY = 200;
/** The server's `maxBufferedBytes` under test. */
const BUDGET = 64 * MiB;
/** What the server's README promises on top of the budget: 64 KiB per connection. */
const PER_CONNECTION = 64 * 1024;
/**
 * What the runtime takes beside the buffered bytes, as the README documents it: freed buffers
 * (here: responses the kernel took) go back to the system only after V8 collects them and the C
 * allocator lets go (V8 lets about 64 MiB pile up first), and each connection's own objects take
 * up to 32 KiB. Peak growth seen here: 89-93 MiB in all, on a quiet machine and with both cores
 * loaded. A server without the budget would hold every hostile client's 1 MiB requests, 400 MiB
 * at least, as it did when a header alone made it set aside a frame's whole size.
 */
const RUNTIME_SLACK = 64 * MiB + HOSTILE * 32 * 1024;
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

  it.each([
    { handler: 'synchronous', command: 1, limits: {} },
    { handler: 'asynchronous, one at a time', command: 3, limits: { maxInFlight: 1 } },
  ])(
    'answers every request when requests being read fill the budget at once ($handler handler)',
    async ({ command, limits }) => {
      const socket = scratchSocket();
      const server = spawnFixture('budget-server', [
        socket.address,
        JSON.stringify({ maxBufferedBytes: 8 * MiB, ...limits }),
      ]);
      try {
        await server.next('listening');
        const senders = await Promise.all(Array.from({ length: 24 }, () => connectTo(socket.address, 'echo')));
        clients.push(...senders);
        // 24 MiB of requests against an 8 MiB budget: the room set aside for them shuts the gate
        // long before any is whole (and with one handler at a time, the in-flight limit shuts it
        // too), and each must still be read, run and answered.
        const answers = await Promise.all(senders.map((sender, i) => sender.request(command, Buffer.alloc(MiB, i))));
        expect(answers.map((answer, i) => answer.equals(Buffer.alloc(MiB, i)))).toEqual(answers.map(() => true));
      } finally {
        server.child.kill('SIGKILL');
        await server.exited;
        socket.remove();
      }
    },
  );

  it('sets aside memory for frames whose headers came alone only as far as maxBufferedBytes plus 64 KiB per connection', async () => {
    const budget = 8 * MiB;
    const socket = scratchSocket();
    const server = spawnFixture('budget-server', [socket.address, JSON.stringify({ maxBufferedBytes: budget })]);
    try {
      const { pid } = (await server.next('listening')) as unknown as { pid: number };
      const inspector = await connectTo(socket.address, INTROSPECTION_SERVICE_NAME);
      clients.push(inspector);
      const base = procStatusBytes(pid, 'VmData');
      // Each says it sends the largest request, and sends its first KiB: 12 bytes buy a 1 MiB promise.
      const start = Buffer.concat([hello(1), LARGEST.subarray(0, 12 + 1024)]);
      for (let i = 0; i < HEADERS_ONLY; i++) {
        const raw = rawSocket(socket.address);
        raws.push(raw);
        raw.socket.write(start);
      }
      const read = async (): Promise<boolean> => {
        const echoes = (await fetchConnections(inspector)).filter((connection) => connection.serviceId === 1);
        return (
          echoes.length === HEADERS_ONLY && echoes.every((connection) => connection.stats.bytesIn === start.length)
        );
      };
      while (!(await read()));
      // Untouched memory is not resident, so RSS would not show it: what the allocator mapped does.
      const setAside = procStatusBytes(pid, 'VmData') - base;
      expect(setAside).toBeLessThan(budget + HEADERS_ONLY * PER_CONNECTION + HEADERS_ONLY * 32 * 1024 + 32 * MiB);
    } finally {
      server.child.kill('SIGKILL');
      await server.exited;
      socket.remove();
    }
  });
});
