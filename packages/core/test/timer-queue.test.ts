import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_TIMER_DELAY, TimerQueue, type Timer } from '../src/index.js';

/** A queue on a clock the test moves by hand. */
function manualQueue(changed?: () => void): { queue: TimerQueue; advance(ms: number): void; now(): number } {
  let clock = 1000;
  return {
    queue: new TimerQueue(() => clock, changed),
    advance: (ms) => void (clock += ms),
    now: () => clock,
  };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('TimerQueue', () => {
  it('runs a timer once its deadline is reached, never before and never inside add', () => {
    const { queue, advance } = manualQueue();
    const ran: string[] = [];
    queue.add(10, () => ran.push('ten'));
    queue.add(0, () => ran.push('zero'));
    expect(ran).toEqual([]);
    expect(queue.run()).toBe(1);
    expect(ran).toEqual(['zero']);
    advance(9.999);
    expect(queue.run()).toBe(0);
    advance(0.001);
    expect(queue.run()).toBe(1);
    expect(ran).toEqual(['zero', 'ten']);
    expect(queue.size).toBe(0);
  });

  it('says how long a loop may block: -1 with no timer, whole ms rounded up, 0 once due', () => {
    const { queue, advance, now } = manualQueue();
    expect(queue.timeout()).toBe(-1);
    expect(queue.earliest).toBe(Number.POSITIVE_INFINITY);
    queue.add(2.5, () => {});
    expect(queue.earliest).toBe(now() + 2.5);
    expect(queue.timeout()).toBe(3);
    advance(2.4);
    expect(queue.timeout()).toBe(1);
    advance(0.1);
    expect(queue.timeout()).toBe(0);
    advance(50);
    expect(queue.timeout()).toBe(0);
  });

  it('runs the earliest deadline first, and equal deadlines in the order they were made', () => {
    const { queue, advance } = manualQueue();
    const ran: string[] = [];
    queue.add(5, () => ran.push('a5'));
    queue.add(3, () => ran.push('b3'));
    queue.add(5, () => ran.push('c5'));
    advance(2);
    queue.add(3, () => ran.push('d3 (due with a5 and c5)'));
    queue.add(1, () => ran.push('e1 (due with b3)'));
    queue.add(3, () => ran.push('f3'));
    advance(10);
    expect(queue.run()).toBe(6);
    expect(ran).toEqual(['b3', 'e1 (due with b3)', 'a5', 'c5', 'd3 (due with a5 and c5)', 'f3']);
  });

  it('does not run a cancelled timer; cancel after it ran, or twice, does nothing', () => {
    const { queue, advance } = manualQueue();
    const ran: string[] = [];
    const early = queue.add(1, () => ran.push('early'));
    const late = queue.add(2, () => ran.push('late'));
    late.cancel();
    late.cancel();
    expect(queue.size).toBe(1);
    advance(5);
    expect(queue.run()).toBe(1);
    early.cancel();
    expect(ran).toEqual(['early']);
    expect(queue.size).toBe(0);
  });

  it('skips a timer of the same batch that an earlier one cancels', () => {
    const { queue, advance } = manualQueue();
    const ran: string[] = [];
    let second: Timer | undefined;
    queue.add(1, () => {
      ran.push('first');
      second!.cancel();
    });
    second = queue.add(1, () => ran.push('second'));
    queue.add(1, () => ran.push('third'));
    advance(1);
    expect(queue.run()).toBe(2);
    expect(ran).toEqual(['first', 'third']);
  });

  it('keeps a timer made while it runs for the next run, even with no delay', () => {
    const { queue } = manualQueue();
    let runs = 0;
    const again = (): void => {
      runs++;
      queue.add(0, again);
    };
    queue.add(0, again);
    expect(queue.run()).toBe(1);
    expect(queue.run()).toBe(1);
    expect(runs).toBe(2);
    expect(queue.size).toBe(1);
  });

  it('runs the other timers when one throws, and rethrows its error as an uncaught exception', () => {
    const { queue } = manualQueue();
    const rethrown: (() => void)[] = [];
    vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((fn) => void rethrown.push(fn));
    const ran: string[] = [];
    queue.add(0, () => {
      throw new Error('boom');
    });
    queue.add(0, () => ran.push('after'));
    expect(queue.run()).toBe(2);
    expect(ran).toEqual(['after']);
    expect(rethrown).toHaveLength(1);
    expect(rethrown[0]!).toThrow('boom');
  });

  it('counts a negative delay as 0 and one past MAX_TIMER_DELAY as that, and refuses NaN', () => {
    const { queue, now } = manualQueue();
    queue.add(-50, () => {});
    expect(queue.earliest).toBe(now());
    queue.run();
    queue.add(2 ** 40, () => {});
    expect(queue.earliest).toBe(now() + MAX_TIMER_DELAY);
    expect(queue.timeout()).toBe(MAX_TIMER_DELAY);
    expect(() => queue.add(Number.NaN, () => {})).toThrowError(RangeError);
    expect(queue.size).toBe(1);
  });

  it('tells whether a keepAlive timer waits, until it runs or is cancelled', () => {
    const { queue, advance } = manualQueue();
    queue.add(1, () => {});
    expect(queue.keepsAlive).toBe(false);
    const held = queue.add(5, () => {}, true);
    const ranHeld = queue.add(1, () => {}, true);
    expect(queue.keepsAlive).toBe(true);
    held.cancel();
    expect(queue.keepsAlive).toBe(true);
    advance(1);
    queue.run();
    ranHeld.cancel();
    expect(queue.keepsAlive).toBe(false);
  });

  it('calls changed after each add and each cancel of a waiting timer, from a running timer too', () => {
    let changes = 0;
    const { queue } = manualQueue(() => changes++);
    const later = queue.add(5, () => {});
    expect(changes).toBe(1);
    queue.add(0, () => {
      later.cancel();
      queue.add(1, () => {});
    });
    expect(changes).toBe(2);
    queue.run();
    expect(changes).toBe(4);
    later.cancel();
    expect(changes).toBe(4);
  });
});

/**
 * What a timer does when it runs: nothing, add a timer, or cancel one of those made just after it
 * (`after` 0 is the next one, wrapping around), which are likely due in the same batch.
 */
type Action = { kind: 'none' } | { kind: 'add'; ms: number } | { kind: 'cancel'; after: number };
type Step =
  | { kind: 'add'; ms: number; action: Action }
  | { kind: 'cancel'; which: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'run' };

const delayArb = fc.oneof(fc.integer({ min: -2, max: 20 }), fc.double({ min: 0, max: 20, noNaN: true }));
const actionArb: fc.Arbitrary<Action> = fc.oneof(
  fc.constant({ kind: 'none' as const }),
  delayArb.map((ms) => ({ kind: 'add' as const, ms })),
  fc.nat({ max: 3 }).map((after) => ({ kind: 'cancel' as const, after })),
);
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('add' as const), ms: delayArb, action: actionArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('cancel' as const), which: fc.nat() }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.oneof(fc.integer({ min: 0, max: 10 }), fc.double({ min: 0, max: 10, noNaN: true })),
    }),
  },
  { weight: 3, arbitrary: fc.constant({ kind: 'run' as const }) },
);

/** The trivially correct queue: a list, filtered and sorted when it runs. */
class ModelQueue {
  readonly timers: { deadline: number; action: Action; state: 'waiting' | 'ran' | 'cancelled' }[] = [];
  readonly ran: number[] = [];
  clock = 0;

  add(ms: number, action: Action): void {
    this.timers.push({ deadline: this.clock + Math.max(0, ms), action, state: 'waiting' });
  }

  cancel(which: number): void {
    const timer = this.timers[which % this.timers.length];
    if (timer?.state === 'waiting') timer.state = 'cancelled';
  }

  run(): number {
    const due = this.timers
      .map((timer, id) => ({ timer, id }))
      .filter(({ timer }) => timer.state === 'waiting' && timer.deadline <= this.clock)
      .sort((a, b) => a.timer.deadline - b.timer.deadline || a.id - b.id);
    let count = 0;
    for (const { timer, id } of due) {
      if (timer.state !== 'waiting') continue; // cancelled by an earlier one of this batch
      timer.state = 'ran';
      this.ran.push(id);
      count++;
      if (timer.action.kind === 'add') this.add(timer.action.ms, { kind: 'none' });
      else if (timer.action.kind === 'cancel') this.cancel(id + 1 + timer.action.after);
    }
    return count;
  }

  /** The queue's timeout() by its definition. */
  timeout(): number {
    const waiting = this.timers.filter((timer) => timer.state === 'waiting');
    if (waiting.length === 0) return -1;
    return Math.max(0, Math.ceil(Math.min(...waiting.map((timer) => timer.deadline)) - this.clock));
  }

  get size(): number {
    return this.timers.filter((timer) => timer.state === 'waiting').length;
  }
}

describe('TimerQueue against a model', () => {
  it('runs what is due in deadline then creation order, never early, never a cancelled one, and new timers next run', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 80 }), (steps) => {
        const model = new ModelQueue();
        const queue = new TimerQueue(() => model.clock);
        const handles: Timer[] = [];
        const ran: number[] = [];
        const add = (ms: number, action: Action): void => {
          const id = handles.length;
          const notBefore = model.clock + Math.max(0, ms);
          handles.push(
            queue.add(ms, () => {
              expect(model.clock).toBeGreaterThanOrEqual(notBefore);
              ran.push(id);
              if (action.kind === 'add') add(action.ms, { kind: 'none' });
              else if (action.kind === 'cancel') handles[(id + 1 + action.after) % handles.length]!.cancel();
            }),
          );
        };

        for (const step of steps) {
          if (step.kind === 'add') {
            add(step.ms, step.action);
            model.add(step.ms, step.action);
          } else if (step.kind === 'cancel') {
            if (handles.length > 0) handles[step.which % handles.length]!.cancel();
            model.cancel(step.which);
          } else if (step.kind === 'advance') {
            model.clock += step.ms;
          } else {
            expect(queue.run()).toBe(model.run());
          }
          expect(ran).toEqual(model.ran);
          expect(queue.size).toBe(model.size);
          expect(queue.timeout()).toBe(model.timeout());
        }
      }),
      { numRuns: 300 },
    );
  });
});
