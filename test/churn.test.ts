import { describe, expect, it } from 'vitest';
import { memfdMappingCount, openFdCount } from './support/fds.js';
import { until } from './support/server.js';
import { transportMatrix, useBackends } from './support/backends.js';

const CYCLES = 5000;
/** Cycles before the first heap sample: lazily built state and JIT-compiled code settle first. */
const WARM_UP = 500;
/** Connections opened side by side: the cycles take turns of the loop, not one each. */
const CONCURRENT = 8;
/**
 * Heap growth allowed from the early sample to the late one. Noise after a forced collection is
 * tens of KiB; a leak of 128 bytes per cycle over the 4,500 measured cycles would be 560 KiB.
 */
const HEAP_MARGIN = 512 * 1024;

const gc = (globalThis as { gc?: () => void }).gc;

/** Heap in use after full collections; needs `--expose-gc` (see vitest.config.ts). */
function heapAfterCollection(): number {
  if (gc === undefined) throw new Error('run with --expose-gc: the heap is only comparable after a forced collection');
  // A second pass collects what finalizers of the first released.
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe.each(transportMatrix)('server on $server, clients on $client, over $transport', (pair) => {
  const { connectTo, startServerOn } = useBackends(pair);

  it(`leaks no fd, no mapping and no memory over ${CYCLES} connect/disconnect cycles`, async () => {
    const fdsBefore = openFdCount();
    let closed = 0;
    let destroyed = 0;
    const running = await startServerOn((server) =>
      server.addService({
        id: 1,
        name: 'echo',
        commands: { 1: (payload) => payload },
        closed: () => closed++,
        destroyed: () => destroyed++,
      }),
    );
    const fdsListening = openFdCount();
    const mappingsListening = memfdMappingCount();

    /** One cycle: connect, one round trip, then a graceful close or, every other time, an abrupt one. */
    async function cycle(n: number): Promise<void> {
      const client = await connectTo(running.address, 'echo');
      expect((await client.request(1, Buffer.from('ping'))).toString()).toBe('ping');
      if (n % 2 === 0) await client.close();
      else client.destroy();
    }
    async function cycles(from: number, to: number): Promise<void> {
      let next = from;
      await Promise.all(
        Array.from({ length: CONCURRENT }, async () => {
          while (next < to) await cycle(next++);
        }),
      );
      // A destroyed client's server side ends when the server reads the hang-up.
      await until(() => closed === to);
    }

    await cycles(0, WARM_UP);
    const early = heapAfterCollection();
    await cycles(WARM_UP, CYCLES);
    const late = heapAfterCollection();

    expect(openFdCount()).toBe(fdsListening);
    expect(memfdMappingCount(), 'shared-memory rings left mapped').toBe(mappingsListening);
    expect(running.server.stats().services[0]).toMatchObject({ accepted: CYCLES, closed: CYCLES, connections: 0 });
    expect(destroyed).toBe(CYCLES);
    expect(late - early, `heap grew from ${early} to ${late} bytes`).toBeLessThan(HEAP_MARGIN);
    await running.stop();
    expect(openFdCount()).toBe(fdsBefore);
  });
});
