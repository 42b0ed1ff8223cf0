import { closeSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IpcClient, IpcServer, Ready } from '@pollux/core';
import * as sys from '@pollux/sys';
import { SocketTransport } from '@pollux/transport-socket';
import { describe, expect, it } from 'vitest';
import { openFdCount } from '../../../test/support/fds.js';
import { useSocketPairs } from '../../../test/support/socket-pairs.js';
import { PumpPoller } from '../src/index.js';

const ONE_BYTE = [Buffer.from('x')];

const { pair, closeFd } = useSocketPairs();

let seen = new Map<number, number>();

/** Adds `fd`; each dispatch is recorded for {@link pumpOnce}, then handed to `handler`. */
function watch(poller: PumpPoller, fd: number, interest: number, handler?: (fd: number, ready: number) => void): void {
  poller.add(fd, interest, (f, ready) => {
    seen.set(f, ready);
    handler?.(f, ready);
  });
}

/** Pumps once without blocking; returns the dispatch count and what each fd was dispatched with. */
function pumpOnce(poller: PumpPoller): { count: number; seen: Map<number, number> } {
  seen = new Map();
  return { count: poller.pump(0), seen };
}

it('refuses a wait mode it does not have with EINVAL', () => {
  expect(() => new PumpPoller({ wait: 'select' as 'poll' })).toThrowError(expect.objectContaining({ code: 'EINVAL' }));
});

describe.each(['epoll', 'poll'] as const)('PumpPoller (%s)', (wait) => {
  it('reports readable, writable and hang-up, level-triggered', () => {
    const poller = new PumpPoller({ wait });
    const [a, b] = pair();
    watch(poller, a, Ready.Readable | Ready.Writable);
    let { count, seen } = pumpOnce(poller);
    expect(count).toBe(1);
    expect(seen.get(a)).toBe(Ready.Writable);

    sys.writev(b, ONE_BYTE, 1);
    for (let turn = 0; turn < 3; turn++) {
      ({ seen } = pumpOnce(poller));
      expect(seen.get(a)).toBe(Ready.Readable | Ready.Writable); // unread data: reported every pump
    }
    expect(sys.read(a, Buffer.alloc(8), 0, 8)).toBe(1);

    sys.shutdown(b, 'write');
    ({ seen } = pumpOnce(poller));
    expect(seen.get(a)! & (Ready.Readable | Ready.HangUp)).toBe(Ready.Readable | Ready.HangUp);
    expect(sys.read(a, Buffer.alloc(8), 0, 8)).toBe(0);
    poller.remove(a);
    expect(poller.size).toBe(0);
  });

  it('asks for peer hang-up only while reading', () => {
    const poller = new PumpPoller({ wait });
    const [a, b] = pair();
    sys.shutdown(b, 'write');
    watch(poller, a, 0);
    expect(pumpOnce(poller).count).toBe(0);
    poller.modify(a, Ready.Readable);
    expect(pumpOnce(poller).seen.get(a)).toBe(Ready.Readable | Ready.HangUp);
    poller.remove(a);
  });

  it('reports an error with the wanted I/O', () => {
    const poller = new PumpPoller({ wait });
    const [a, b] = pair();
    sys.writev(a, ONE_BYTE, 1);
    closeFd(b); // b dies with unread data: a gets ECONNRESET
    watch(poller, a, Ready.Readable);
    const { seen } = pumpOnce(poller);
    expect(seen.get(a)! & Ready.Readable).toBeTruthy();
    expect(sys.read(a, Buffer.alloc(8), 0, 8)).toBeLessThan(0);
    poller.remove(a);
  });

  it.runIf(wait === 'poll')('reports a closed-but-watched fd (POLLNVAL) as an error with the wanted I/O', () => {
    // The caller's bug: closing an fd without removing it first. poll(2) says POLLNVAL, an error
    // like any other: the write it wakes fails with EBADF.
    const poller = new PumpPoller({ wait });
    const [c] = pair();
    watch(poller, c, Ready.Writable);
    closeFd(c);
    expect(pumpOnce(poller).seen.get(c)).toBe(Ready.Error | Ready.Writable);
    poller.remove(c);
  });

  it.runIf(wait === 'epoll')('refuses to watch an fd that is not open (EBADF) or a regular file (EPERM)', () => {
    const poller = new PumpPoller({ wait });
    const file = openSync(fileURLToPath(import.meta.url), 'r');
    try {
      expect(() => poller.add(1 << 20, Ready.Readable, () => {})).toThrowError(
        expect.objectContaining({ code: 'EBADF' }),
      );
      expect(() => poller.add(file, Ready.Readable, () => {})).toThrowError(expect.objectContaining({ code: 'EPERM' }));
      expect(poller.size).toBe(0);
    } finally {
      closeSync(file);
    }
  });

  it.runIf(wait === 'epoll')('holds its epoll fd only while it watches an fd', () => {
    const poller = new PumpPoller({ wait });
    const [a, b] = pair();
    const before = openFdCount();
    poller.add(a, Ready.Readable, () => {});
    poller.add(b, Ready.Readable, () => {});
    expect(openFdCount()).toBe(before + 1);
    poller.remove(a);
    expect(openFdCount()).toBe(before + 1);
    poller.remove(b);
    expect(openFdCount()).toBe(before);
    expect(poller.pump(1)).toBe(0); // sleeps with nothing watched
    poller.add(a, Ready.Writable, () => {});
    expect(poller.pump(0)).toBe(1);
    poller.close();
    expect(openFdCount()).toBe(before);
  });

  it('follows modify, and an empty interest watches nothing', () => {
    const poller = new PumpPoller({ wait });
    const [a, b] = pair();
    watch(poller, a, Ready.Readable);
    expect(pumpOnce(poller).count).toBe(0);
    poller.modify(a, Ready.Writable);
    expect(pumpOnce(poller).seen.get(a)).toBe(Ready.Writable);
    sys.writev(b, ONE_BYTE, 1);
    poller.modify(a, 0);
    expect(pumpOnce(poller).count).toBe(0);
    poller.modify(a, Ready.Readable);
    expect(pumpOnce(poller).seen.get(a)).toBe(Ready.Readable);
    poller.remove(a);
    expect(() => poller.modify(a, Ready.Readable)).toThrowError(expect.objectContaining({ code: 'ENOENT' }));
  });

  it('filters readiness already fetched by an interest changed in the same pump', () => {
    const poller = new PumpPoller({ wait });
    const [a] = pair();
    const [c] = pair();
    const calls: number[] = [];
    const handler = (fd: number, ready: number): void => {
      calls.push(ready);
      poller.modify(fd === a ? c : a, 0); // whichever comes first pauses the other
    };
    watch(poller, a, Ready.Writable, handler);
    watch(poller, c, Ready.Writable, handler);
    expect(pumpOnce(poller).count).toBe(1);
    expect(calls).toEqual([Ready.Writable]);
    poller.close();
  });

  it('never dispatches an fd removed by its own callback or by another fd of the same batch', () => {
    const poller = new PumpPoller({ wait });
    const pairs = [pair(), pair(), pair(), pair()];
    const calls: number[] = [];
    for (const [a, b] of pairs) {
      sys.writev(b, ONE_BYTE, 1);
      watch(poller, a, Ready.Readable, (fd) => {
        calls.push(fd);
        for (const [other] of pairs) poller.remove(other); // itself included, twice is harmless
        poller.remove(fd);
      });
    }
    expect(pumpOnce(poller).count).toBe(1);
    expect(calls.length).toBe(1);
    expect(poller.size).toBe(0);
    for (let turn = 0; turn < 3; turn++) expect(pumpOnce(poller).count).toBe(0);
  });

  it('removes fds from the middle without losing the others, past the initial capacity', () => {
    const poller = new PumpPoller({ wait });
    const ends = Array.from({ length: 40 }, () => pair()); // grows past the initial capacity of 16
    for (const [a, b] of ends) {
      sys.writev(b, ONE_BYTE, 1);
      watch(poller, a, Ready.Readable);
    }
    for (let i = 0; i < ends.length; i += 3) poller.remove(ends[i]![0]);
    const kept = ends.filter((_, i) => i % 3 !== 0).map(([a]) => a);
    const { count, seen } = pumpOnce(poller);
    expect(count).toBe(kept.length);
    expect([...seen.keys()].sort((x, y) => x - y)).toEqual(kept.sort((x, y) => x - y));
    poller.close();
    poller.close();
    expect(poller.size).toBe(0);
    expect(pumpOnce(poller).count).toBe(0);
  });

  it('serves every ready fd within a few pumps when more are ready than one wait hands out', () => {
    const poller = new PumpPoller({ wait });
    const ends = Array.from({ length: 300 }, () => pair());
    const dispatched = new Set<number>();
    for (const [a] of ends) poller.add(a, Ready.Writable, (fd) => dispatched.add(fd));
    // epoll hands out 64, then 128, then 256 (level-triggered fds rejoin the back of its ready
    // list); poll(2) all at once.
    for (let turn = 0; turn < 3; turn++) poller.pump(0);
    expect(dispatched.size).toBe(ends.length);
    poller.close();
  });

  it("gives an fd removed and re-added during a pump only its new registration's events", () => {
    const poller = new PumpPoller({ wait });
    const [a, b] = pair();
    const [c, d] = pair();
    sys.writev(b, ONE_BYTE, 1);
    sys.writev(d, ONE_BYTE, 1);
    const fresh: number[] = [];
    let old = 0;
    // Each callback re-registers the other fd for Writable: whichever runs second must not see
    // the Readable fetched for its old registration.
    const reAdd = (fd: number): void => {
      if (old++ > 0) return;
      const other = fd === a ? c : a;
      poller.remove(other);
      poller.add(other, Ready.Writable, (_fd, ready) => fresh.push(ready));
    };
    poller.add(a, Ready.Readable, reAdd);
    poller.add(c, Ready.Readable, reAdd);
    expect(poller.pump(0)).toBe(1);
    expect(old).toBe(1);
    expect(fresh).toEqual([]);
    poller.pump(0);
    expect(fresh.length).toBeGreaterThan(0);
    expect(fresh.every((ready) => ready === Ready.Writable)).toBe(true);
    poller.close();
  });

  it('rejects a second add with EEXIST, ignores removing an unknown fd, and refuses to pump re-entrantly', () => {
    const poller = new PumpPoller({ wait });
    const [a] = pair();
    poller.add(a, Ready.Writable, () => {
      expect(() => poller.pump(0)).toThrowError(expect.objectContaining({ code: 'EBUSY' }));
    });
    expect(() => poller.add(a, Ready.Readable, () => {})).toThrowError(expect.objectContaining({ code: 'EEXIST' }));
    expect(poller.pump(0)).toBe(1);
    poller.remove(a);
    poller.remove(a);
    poller.remove(12345);
    expect(poller.size).toBe(0);
  });

  it('returns 0 at once with timeout 0, and after at most the timeout when nothing is ready', () => {
    const poller = new PumpPoller({ wait });
    const [a] = pair();
    expect(poller.pump(0)).toBe(0); // no fds
    expect(poller.pump(5)).toBe(0); // no fds: just sleeps
    poller.add(a, Ready.Readable, () => {});
    expect(poller.pump(0)).toBe(0);
    expect(poller.pump(20)).toBe(0);
    expect(poller.pump(1.9)).toBe(0);
    poller.remove(a);
  });

  it('runs jobs in order inside pump: queued ones first, those a callback queues in the same pump', () => {
    const poller = new PumpPoller({ wait });
    const [a, b] = pair();
    const log: string[] = [];
    poller.job(() => log.push('queued before'));
    sys.writev(b, ONE_BYTE, 1);
    poller.add(a, Ready.Readable, () => {
      poller.remove(a);
      poller.job(() => log.push('first'));
      poller.job(() => {
        log.push('second');
        poller.job(() => log.push('queued by a job'));
      });
      log.push('callback returned');
    });
    expect(log).toEqual([]); // nothing runs outside pump
    expect(poller.pump(0)).toBe(1);
    expect(log).toEqual(['queued before', 'callback returned', 'first', 'second']);
    // A job is pending: even an endless timeout must not block (the test would hang).
    expect(poller.pump(-1)).toBe(0);
    expect(log.at(-1)).toBe('queued by a job');
  });

  it('runs a job queued by a continuation of a dispatch before the next pump, as soon as the microtasks have run', async () => {
    // The round trip of a client: a reply settles a promise during a pump, its continuation sends
    // the next request (a job that writes). The write must not wait for the next pump.
    const poller = new PumpPoller({ wait });
    const [a, b] = pair();
    sys.writev(b, ONE_BYTE, 1);
    const replied = new Promise<void>((resolve) => {
      watch(poller, a, Ready.Readable, () => {
        poller.remove(a);
        resolve();
      });
    });
    const requested = (async () => {
      await replied;
      poller.job(() => sys.writev(a, ONE_BYTE, 1));
    })();
    expect(poller.pump(0)).toBe(1);
    await requested;
    await new Promise<void>((resolve) => setImmediate(resolve)); // a turn of Node's loop, no pump
    expect(sys.read(b, Buffer.alloc(8), 0, 8)).toBe(1);
  });

  it('runs a job queued outside any pump before a pump called in the same task', () => {
    const poller = new PumpPoller({ wait });
    const log: string[] = [];
    poller.job(() => log.push('job'));
    expect(log).toEqual([]);
    poller.pump(0);
    expect(log).toEqual(['job']);
  });

  it('does not block while a job queued by a job is waiting', () => {
    const poller = new PumpPoller({ wait });
    let runs = 0;
    const again = (): void => {
      if (++runs < 5) poller.job(again);
    };
    poller.job(again);
    while (runs < 5) poller.pump(60_000); // would take minutes if a pump blocked
    expect(runs).toBe(5);
  });

  it('never sleeps past the nearest timer: a long or endless pump with no fd ready returns having run it', () => {
    const poller = new PumpPoller({ wait });
    for (const timeout of [60_000, -1]) {
      let ranAt = -1;
      const start = poller.now();
      poller.timer(20, () => (ranAt = poller.now()));
      // Blocking for the whole timeout would take a minute, or forever.
      expect(poller.pump(timeout)).toBe(0);
      expect(ranAt - start).toBeGreaterThanOrEqual(20);
    }
    const [a] = pair();
    poller.add(a, Ready.Readable, () => {}); // watched, never ready
    let ran = false;
    poller.timer(20, () => (ran = true));
    expect(poller.pump(-1)).toBe(0);
    expect(ran).toBe(true);
    poller.close();
  });

  it('does not block while a timer is due, and runs due timers after the dispatches of the pump', () => {
    const poller = new PumpPoller({ wait });
    const [a] = pair();
    const log: string[] = [];
    poller.timer(0, () => log.push('timer made before the pump'));
    poller.add(a, Ready.Writable, () => {
      poller.remove(a);
      log.push('dispatch');
      poller.timer(0, () => log.push('timer made by the dispatch'));
      poller.job(() => log.push('job queued by the dispatch'));
    });
    expect(poller.pump(-1)).toBe(1);
    expect(log).toEqual([
      'dispatch',
      'timer made before the pump',
      'timer made by the dispatch',
      'job queued by the dispatch',
    ]);

    // A timer made by a running timer waits for the next pump, which then does not block.
    log.length = 0;
    poller.timer(0, () => {
      log.push('first');
      poller.timer(0, () => log.push('made by a timer'));
    });
    expect(poller.pump(-1)).toBe(0);
    expect(log).toEqual(['first']);
    expect(poller.pump(-1)).toBe(0);
    expect(log).toEqual(['first', 'made by a timer']);
  });

  it('waits on a timer of the longest delay without asking the kernel for more than it can take', () => {
    const poller = new PumpPoller({ wait });
    const [a] = pair();
    const far = poller.timer(2 ** 40, () => {});
    poller.add(a, Ready.Writable, () => {});
    // The wait is the timer's, clamped to MAX_TIMER_DELAY; the writable fd ends it at once.
    expect(poller.pump(-1)).toBe(1);
    far.cancel();
    poller.close();
  });

  it('lets a throwing callback escape pump, and reports the rest on the next pump', () => {
    const poller = new PumpPoller({ wait });
    const [a] = pair();
    const [c] = pair();
    const seen: number[] = [];
    let thrown = false;
    const handler = (fd: number): void => {
      seen.push(fd);
      if (!thrown) {
        thrown = true;
        throw new Error('boom');
      }
    };
    poller.add(a, Ready.Writable, handler);
    poller.add(c, Ready.Writable, handler);
    expect(() => poller.pump(0)).toThrow('boom');
    expect(seen.length).toBe(1);
    expect(poller.pump(0)).toBe(2);
    poller.close();
  });

  it('serves an IpcServer and an IpcClient on one pump: 10,000 pipelined echo requests', async () => {
    const poller = new PumpPoller({ wait });
    let driving = true;
    const drive = (): void => {
      if (!driving) return;
      poller.pump(1);
      setImmediate(drive);
    };
    setImmediate(drive);
    const path = join(tmpdir(), `pollux-pump-${process.pid}.sock`);
    const transport = new SocketTransport();
    const server = new IpcServer({ poller, transport });
    server.addService({ id: 1, name: 'echo', commands: { 0: (payload) => payload } });
    try {
      await server.listen(path);
      const client = await IpcClient.connect(path, { service: 'echo', poller, transport });
      const replies = await Promise.all(
        Array.from({ length: 10_000 }, (_, i) => client.request(0, Buffer.from(`request ${i}`))),
      );
      expect(replies.every((reply, i) => reply.toString() === `request ${i}`)).toBe(true);
      await client.close();
      await server.close();
      expect(poller.size).toBe(0);
    } finally {
      driving = false;
      rmSync(path, { force: true });
    }
  });
});
