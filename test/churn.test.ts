import { describe, expect, it } from 'vitest';
import { memfdMappingCount, openFdCount } from './support/fds.js';
import { until } from './support/server.js';
import { transportMatrix, useBackends } from './support/backends.js';

/** Cycles before the first heap sample: lazily built state and JIT-compiled code settle first. */
const WARM_UP = 500;
/** Measured cycles run in slices, with a heap sample after each. */
const SLICE = 500;
const SLICES = 9;
const CYCLES = WARM_UP + SLICE * SLICES;
/** Connections opened side by side: the cycles take turns of the loop, not one each. */
const CONCURRENT = 8;
/**
 * Growth allowed from the median of the first three samples to the median of the last three,
 * 3,000 cycles apart. A single sample after a forced collection swings by up to ~500 KiB (JIT
 * code, feedback vectors, the test runner's own traffic); a median of three swings by well under
 * half that. A leak of 128 bytes per cycle would be 384 KiB.
 */
const HEAP_MARGIN = 384 * 1024;

const gc = (globalThis as { gc?: () => void }).gc;

/** Heap in use after full collections; needs `--expose-gc` (see vitest.config.ts). */
function heapAfterCollection(): number {
  if (gc === undefined) throw new Error('run with --expose-gc: the heap is only comparable after a forced collection');
  // A second pass collects what finalizers of the first released.
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
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
    const heap: number[] = [];
    for (let from = WARM_UP; from < CYCLES; from += SLICE) {
      await cycles(from, from + SLICE);
      heap.push(heapAfterCollection());
    }
    const early = median(heap.slice(0, 3));
    const late = median(heap.slice(-3));

    expect(openFdCount()).toBe(fdsListening);
    expect(memfdMappingCount(), 'shared-memory rings left mapped').toBe(mappingsListening);
    expect(running.server.stats().services[0]).toMatchObject({ accepted: CYCLES, closed: CYCLES, connections: 0 });
    expect(destroyed).toBe(CYCLES);
    expect(late - early, `heap grew from ${early} to ${late} bytes (samples: ${heap.join(', ')})`).toBeLessThan(
      HEAP_MARGIN,
    );
    await running.stop();
    expect(openFdCount()).toBe(fdsBefore);
  });
});
