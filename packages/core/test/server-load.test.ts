// The server-wide gate on its own: which waiting sessions it wakes, and when.
import { describe, expect, it } from 'vitest';
import { ManualPoller, MemoryNetwork } from '@pollux/core/testing';
import { GUARANTEED_BYTES, ServerLoad, type GateWaiter } from '../src/server/server-load.js';

/** A waiting session that counts how often the gate let it through. */
function waiter(passesBytesGate: boolean): GateWaiter & { passed: number } {
  return {
    passed: 0,
    passesBytesGate,
    passGate() {
      this.passed++;
    },
  };
}

describe('server gate', () => {
  it('wakes the waiters a gate shut only for bytes admits when it shuts for bytes while they wait their turn', () => {
    const budget = 4 * GUARANTEED_BYTES;
    const load = new ServerLoad(new ManualPoller(new MemoryNetwork()), 1, budget, undefined);
    load.inFlightChanged(1);
    const first = waiter(true);
    const holder = waiter(true);
    const grower = waiter(false);
    for (const each of [first, holder, grower]) load.wait(each);
    // The handler settles: the gate opens with room for one request, and the first in line goes.
    load.inFlightChanged(-1);
    expect([first.passed, holder.passed, grower.passed]).toEqual([1, 0, 0]);
    // The budget fills before the others' turn. One whose input is in hand, or who holds under its
    // share, may go on; it must not wait for bytes to fall that only its own request would free.
    load.bytesChanged(budget);
    expect([first.passed, holder.passed, grower.passed]).toEqual([1, 1, 0]);
    expect(load.admits(holder)).toBe(true);
    expect(load.admits(grower)).toBe(false);
    // The bytes fall to three quarters: the gate opens, and the one left goes too.
    load.wakeDone();
    load.wakeDone();
    load.bytesChanged(-budget / 4);
    expect(grower.passed).toBe(1);
  });
});
