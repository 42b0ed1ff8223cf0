import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fetchConnections, fetchServerStats, INTROSPECTION_SERVICE_NAME, SHM_PREFIX, type IpcClient } from 'pollux';
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
 * up to 32 KiB. Peak growth seen here: 94-116 MiB in all (89-93 while each connection's first
 * 64 KiB still counted against the budget, which could then shut for good). A server without the
 * budget would hold every hostile client's 1 MiB requests, 400 MiB at least, as it did when a
 * header alone made it set aside a frame's whole size.
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
    { load: '24 × 1 MiB against 8 MiB, synchronous handler', clients: 24, sizes: [MiB], rounds: 1 },
    {
      load: '24 × 1 MiB against 8 MiB, asynchronous handler one at a time',
      clients: 24,
      sizes: [MiB],
      command: 3,
      options: { maxInFlight: 1 },
      rounds: 1,
    },
    {
      load: '48 × 256 KiB against 2 MiB, more shares of 64 KiB than the low-water mark',
      clients: 48,
      sizes: [256 * 1024],
      options: { maxBufferedBytes: 2 * MiB, maxMessageSize: 256 * 1024 },
      rounds: 1,
    },
    {
      load: '48 × 1 MiB against 8 MiB, twice: read chunks guessed from the first round',
      clients: 48,
      sizes: [MiB],
      rounds: 2,
    },
    {
      load: '48 × (1 KiB then 1 MiB) against 8 MiB, twice: a large request behind a small one',
      clients: 48,
      sizes: [1024, MiB],
      rounds: 2,
    },
    {
      load: '60 × 4 pipelined, 12 B to 256 KiB, against 1 MiB, one handler per connection, 12 rounds',
      clients: 60,
      sizes: [65_548, 70_000, 200_000, 12, 262_144, 30_000],
      command: 3,
      options: { maxBufferedBytes: MiB, maxMessageSize: 256 * 1024, maxInFlightPerConnection: 1 },
      rounds: 12,
      pipeline: 4,
    },
    {
      load: '50 × 30 KB to 200 KB over shared memory lending views, one handler at a time, 20 rounds',
      clients: 50,
      sizes: [200_000, 100_000, 150_000, 30_000],
      command: 4,
      options: { shm: { lendViews: true }, maxInFlight: 1 },
      rounds: 20,
      pipeline: 1,
      shm: true,
    },
    {
      load: '60 × 5 pipelined, 12 B to 200 KB, against 1 MiB, asynchronous handlers two at a time',
      clients: 60,
      sizes: [65_548, 70_000, 200_000, 12, 30_000],
      command: 3,
      options: { maxBufferedBytes: MiB, maxMessageSize: 256 * 1024, maxInFlight: 2 },
      rounds: 6,
    },
  ])(
    'answers every request when requests being read fill the budget at once ($load)',
    async ({ clients: count, sizes, command = 1, options = {}, rounds, pipeline = sizes.length, shm = false }) => {
      const socket = scratchSocket();
      const address = shm ? `${SHM_PREFIX}${socket.address}` : socket.address;
      const server = spawnFixture('budget-server', [
        address,
        JSON.stringify({ maxBufferedBytes: 8 * MiB, ...options }),
      ]);
      try {
        await server.next('listening');
        const senders = await Promise.all(Array.from({ length: count }, () => connectTo(address, 'echo')));
        clients.push(...senders);
        // The room set aside for the requests shuts the gate long before any is whole (and with
        // one handler at a time, the in-flight limit shuts it too), and each must still be read,
        // run and answered. Most connections are left holding the first 64 KiB of theirs, the
        // share each is guaranteed: counted against the budget, 48 such shares kept the gate shut
        // for good once the requests with whole room were answered, with nothing left to free them.
        // After a large frame, a connection guesses the next is as large (up to 256 KiB) and reads
        // into a chunk of that size: filled with part of a larger request under a shut gate (the
        // request alone, or behind a small one the same read brought), it held counted memory it
        // could not use, and 48 of them kept the gate shut for good.
        for (let round = 0; round < rounds; round++) {
          // Each client sends the sizes in its own order, which changes every round.
          const payloads = senders.map((_, i) =>
            Array.from({ length: pipeline }, (_, k) => Buffer.alloc(sizes[(i + round + k) % sizes.length]!, i + round)),
          );
          const answers = await Promise.all(
            senders.map((sender, i) => Promise.all(payloads[i]!.map((payload) => sender.request(command, payload)))),
          );
          expect(answers.map((each, i) => each.every((answer, k) => answer.equals(payloads[i]![k]!)))).toEqual(
            answers.map(() => true),
          );
        }
      } finally {
        server.child.kill('SIGKILL');
        await server.exited;
        socket.remove();
      }
    },
  );

  it('reads a request it admitted whole, even when the budget has less room left than the request', async () => {
    // Ten clients each send the header of a 256 KiB request and two bytes of it, and no more: room
    // is set aside for each whole request, so that the budget has about 128 KiB left. The next
    // request is admitted while the gate is open, and must be read whole and answered. Room for
    // only its first 128 KiB would leave it holding part of a request that cannot complete while
    // the gate is shut, and the others never finish theirs.
    const size = 256 * 1024;
    const holders = 10;
    const socket = scratchSocket();
    const server = spawnFixture('budget-server', [
      socket.address,
      JSON.stringify({ maxBufferedBytes: 2 * MiB, maxMessageSize: size }),
    ]);
    try {
      await server.next('listening');
      const inspector = await connectTo(socket.address, INTROSPECTION_SERVICE_NAME);
      const asker = await connectTo(socket.address, 'echo');
      clients.push(inspector, asker);
      const request = frame(4, 1, 1, Buffer.alloc(size));
      const start = Buffer.concat([hello(1), request.subarray(0, 13)]);
      const read = async (bytes: number): Promise<boolean> => {
        const echoes = (await fetchConnections(inspector)).filter((connection) => connection.stats.bytesIn === bytes);
        return echoes.length === holders;
      };
      for (let i = 0; i < holders; i++) {
        const raw = rawSocket(socket.address);
        raws.push(raw);
        raw.socket.write(start);
      }
      while (!(await read(start.length)));
      // Room for a frame is set aside when the read after its header comes.
      for (const raw of raws) raw.socket.write(request.subarray(13, 14));
      while (!(await read(start.length + 1)));
      const answer = await asker.request(1, Buffer.alloc(size, 9));
      expect(answer.equals(Buffer.alloc(size, 9))).toBe(true);
    } finally {
      server.child.kill('SIGKILL');
      await server.exited;
      socket.remove();
    }
  });

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
