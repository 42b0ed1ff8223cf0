// ManualPoller keeps the Poller contract's promises, on a memory network and a manual clock.
import { describe, expect, it } from 'vitest';
import { Ready } from '@pollux/core';
import { ManualPoller, MemoryNetwork, MemoryTransport, type MemoryChannel } from '@pollux/core/testing';

async function setup(): Promise<{ network: MemoryNetwork; poller: ManualPoller; a: MemoryChannel; b: MemoryChannel }> {
  const network = new MemoryNetwork();
  const listener = new MemoryTransport(network).listen('here');
  const a = await new MemoryTransport(network).connect('here');
  const b = listener.accept() as MemoryChannel;
  listener.close();
  return { network, poller: new ManualPoller(network), a, b };
}

const ONE = [new Uint8Array([1])];

describe('ManualPoller', () => {
  it('dispatches what meets the interest, level-triggered, and goes idle when callbacks do nothing', async () => {
    const { poller, a, b } = await setup();
    const seen: number[] = [];
    poller.add(a.fd, Ready.Readable, (_fd, ready) => seen.push(ready));
    expect(poller.run()).toBe(0);
    expect(seen).toEqual([]);
    b.writev(ONE, 1);
    poller.turn();
    poller.turn();
    expect(seen).toEqual([Ready.Readable, Ready.Readable]);
    poller.modify(a.fd, Ready.Writable);
    poller.turn();
    expect(seen.at(-1)).toBe(Ready.Writable);
    poller.remove(a.fd);
  });

  it('never dispatches an fd removed earlier in the same turn, and gives a re-added fd only its new events', async () => {
    const { poller, a, b } = await setup();
    a.writev(ONE, 1);
    b.writev(ONE, 1);
    const calls: string[] = [];
    poller.add(a.fd, Ready.Readable, () => {
      calls.push('a');
      poller.remove(b.fd);
      poller.remove(a.fd);
      poller.add(a.fd, Ready.Writable, (_fd, ready) => calls.push(`a again ${ready}`));
    });
    poller.add(b.fd, Ready.Readable, () => calls.push('b'));
    poller.turn();
    expect(calls).toEqual(['a']);
    poller.turn();
    expect(calls).toEqual(['a', `a again ${Ready.Writable}`]);
    poller.remove(a.fd);
  });

  it('reports hang-up and errors whatever the interest, on every turn until removed', async () => {
    const { network, poller, a, b } = await setup();
    a.writev(ONE, 1);
    const seen: number[] = [];
    poller.add(b.fd, 0, (_fd, ready) => seen.push(ready));
    a.crash();
    poller.turn();
    poller.turn();
    // It died with bytes unread: a reset, so Error too.
    expect(seen).toEqual([Ready.HangUp | Ready.Error, Ready.HangUp | Ready.Error]);
    a.close();
    expect(network.openFds).toBe(1);
    poller.remove(b.fd);
    b.close();
  });

  it('runs jobs after the callback that queued them, in order, and jobs queued by jobs on a later turn', async () => {
    const { poller, a, b } = await setup();
    b.writev(ONE, 1);
    const log: string[] = [];
    poller.add(a.fd, Ready.Readable, () => {
      poller.remove(a.fd);
      poller.job(() => log.push('first'));
      poller.job(() => {
        log.push('second');
        poller.job(() => log.push('queued by a job'));
      });
      log.push('callback returned');
    });
    poller.turn();
    expect(log).toEqual(['callback returned', 'first', 'second']);
    expect(poller.pendingJobs).toBe(1);
    poller.run();
    expect(log.at(-1)).toBe('queued by a job');
  });

  it('runs timers only when the clock gets there, in deadline order, ties in the order made, never inside timer()', async () => {
    const { poller } = await setup();
    const log: string[] = [];
    poller.timer(0, () => log.push('zero'));
    expect(log).toEqual([]);
    poller.timer(20, () => log.push('20 first'));
    poller.timer(10, () => {
      log.push(`10 at ${poller.now()}`);
      poller.timer(5, () => log.push(`15 at ${poller.now()}`));
    });
    poller.timer(20, () => log.push('20 second'));
    const cancelled = poller.timer(15, () => log.push('cancelled'));
    cancelled.cancel();
    await poller.settle();
    expect(log).toEqual(['zero']);
    await poller.advance(19);
    expect(log).toEqual(['zero', '10 at 10', '15 at 15']);
    expect(poller.now()).toBe(19);
    await poller.advance(1);
    expect(log).toEqual(['zero', '10 at 10', '15 at 15', '20 first', '20 second']);
    expect(poller.pendingTimers).toBe(0);
    await expect(poller.advance(-1)).rejects.toMatchObject({ code: 'EINVAL' });
  });

  it('settles promise continuations between turns, and says when a promise waits for time', async () => {
    const { poller } = await setup();
    const later = new Promise<string>((resolve) => poller.timer(100, () => resolve('done')));
    await expect(poller.settled(later)).rejects.toMatchObject({ code: 'EDEADLK' });
    const chained = Promise.resolve().then(() => new Promise<void>((resolve) => poller.job(resolve)));
    await poller.settled(chained);
    await poller.advance(100);
    expect(await poller.settled(later)).toBe('done');
  });

  it('stops a loop that never goes idle with ELOOP, and refuses to turn from inside its own callback', async () => {
    const { poller, a, b } = await setup();
    const requeue = (): void => poller.job(requeue);
    poller.job(requeue);
    expect(() => poller.run()).toThrowError(expect.objectContaining({ code: 'ELOOP' }));
    const quiet = new ManualPoller(new MemoryNetwork(), { maxTurns: 5 });
    b.writev(ONE, 1);
    const inner: unknown[] = [];
    quiet.job(() => {
      try {
        quiet.turn();
      } catch (error) {
        inner.push(error);
      }
    });
    quiet.run();
    expect(inner).toEqual([expect.objectContaining({ code: 'EBUSY' })]);
    expect(a.unread).toBe(1);
  });

  it('rejects a second add with EEXIST, modify of an unknown fd with ENOENT, and an fd closed while watched with EBADF', async () => {
    const { network, poller, a } = await setup();
    poller.add(a.fd, Ready.Readable, () => undefined);
    expect(() => poller.add(a.fd, Ready.Readable, () => undefined)).toThrowError(
      expect.objectContaining({ code: 'EEXIST' }),
    );
    expect(() => poller.modify(a.fd + 1000, 0)).toThrowError(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => poller.add(a.fd + 1000, 0, () => undefined)).toThrowError(expect.objectContaining({ code: 'EBADF' }));
    a.close();
    expect(() => poller.turn()).toThrowError(expect.objectContaining({ code: 'EBADF' }));
    poller.remove(a.fd);
    expect(poller.watchedFds).toEqual([]);
    expect(network.isOpen(a.fd)).toBe(false);
  });
});
