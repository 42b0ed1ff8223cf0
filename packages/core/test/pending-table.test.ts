import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PendingTable } from '../src/client/pending-table.js';

describe('PendingTable', () => {
  it('behaves like a map from fresh ids, whatever the order of adds and takes', () => {
    const op = fc.oneof(
      fc.constant({ kind: 'add' as const }),
      fc.record({ kind: fc.constant('take' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('stray' as const), id: fc.nat({ max: 0xffffffff }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const table = new PendingTable<number>(4);
        const model = new Map<number, number>();
        let serial = 0;
        for (const step of ops) {
          if (step.kind === 'add') {
            const id = table.add(++serial);
            expect(model.has(id)).toBe(false);
            model.set(id, serial);
          } else if (step.kind === 'take' && model.size > 0) {
            const id = [...model.keys()][step.pick % model.size]!;
            expect(table.take(id)).toBe(model.get(id));
            model.delete(id);
            expect(table.take(id)).toBeUndefined();
          } else if (step.kind === 'stray') {
            expect(table.take(step.id)).toBe(model.get(step.id));
            model.delete(step.id);
          }
          expect(table.size).toBe(model.size);
        }
        expect(table.keys().sort((a, b) => a - b)).toEqual([...model.keys()].sort((a, b) => a - b));
      }),
    );
  });

  it('skips an id still taken by a request that waits a whole lap, without growing', () => {
    const table = new PendingTable<string>(4);
    const stuck = table.add('stuck');
    for (let i = 0; i < 1000; i++) expect(table.take(table.add('quick'))).toBe('quick');
    expect(table.take(stuck)).toBe('stuck');
    expect(table.size).toBe(0);
  });

  it('tells a late id from the newer one that reuses its slot', () => {
    const table = new PendingTable<string>(4);
    const late = table.add('timed out');
    table.take(late);
    const ids = [table.add('a'), table.add('b'), table.add('c'), table.add('d')];
    expect(ids.some((id) => (id & 3) === (late & 3))).toBe(true);
    expect(table.take(late)).toBeUndefined();
  });
});
