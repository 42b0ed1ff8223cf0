// The poller conformance kit: a vitest suite any Poller runs against itself (testing).
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IpcError } from '../errors.js';
import { MAX_TIMER_DELAY, Ready, type Poller, type Timer } from '../contracts/poller.js';

/**
 * The few fd operations the suite needs to make readiness happen. `@pollux/sys` provides all of
 * them with these exact signatures: pass `import * as sys from '@pollux/sys'`.
 */
export interface ConformanceFds {
  /** A connected pair of non-blocking stream sockets. */
  socketpair(): [number, number];
  /** Writes `chunks[0 .. count)`; bytes written or a negative errno. */
  writev(fd: number, chunks: readonly Uint8Array[], count: number): number;
  /** Reads into `buffer[offset, offset + length)`; bytes, 0 at end of file, or a negative errno. */
  read(fd: number, buffer: Uint8Array, offset: number, length: number): number;
  /** Shuts down one or both directions of a socket. */
  shutdown(fd: number, how: 'read' | 'write' | 'both'): void;
  /** Closes an fd. */
  close(fd: number): void;
}

/** How {@link describePollerConformance} makes, drives and disposes of the poller under test. */
export interface PollerConformanceOptions {
  /** Shown in the test titles. */
  readonly name: string;
  /** Makes a fresh poller for each test. */
  create(): Poller;
  /** fd operations, e.g. `@pollux/sys`. */
  readonly fds: ConformanceFds;
  /**
   * For a poller the application drives (a pump): start driving it and return how to stop. Omit
   * for pollers that run on their own (Node's loop, a thread).
   */
  drive?(poller: Poller): () => void;
  /** Releases what the poller holds once a test has removed every fd. */
  dispose?(poller: Poller): void | Promise<void>;
  /**
   * Absolute path of a module exporting `createPoller()` (a poller of this kind), `fds` (as
   * above) and, if the poller needs driving, `drivePoller(poller)` returning a stop function.
   * The suite runs it in child processes (under `tsx`, with the module's folder as working
   * directory): one adds an fd, removes it and must then exit by itself. For a poller without
   * `drive`, which runs on Node's loop, others check `keepAlive`: a waiting timer holds the
   * process open if and only if it was made with `keepAlive`. Omit to skip those tests.
   */
  readonly exitModule?: string;
}

const ONE_BYTE = [new Uint8Array([1])];
/** How long the exit test's child may take to start up and exit by itself. */
const EXIT_DEADLINE_MS = 20_000;

function openFdCount(): number {
  return readdirSync('/proc/self/fd').length - 1;
}

/**
 * Registers a vitest suite that checks a {@link Poller} against the contract the pollux engine
 * relies on: level-triggered readable and writable readiness, `modify`, `remove` from inside a
 * callback with no dispatch afterwards, many fds, hang-up and error reporting (also for an fd
 * with no interest), `job` ordering, timers (never early by `now()`, in deadline order,
 * cancellable, waking an idle loop, and `keepAlive` on Node's loop), no leaked fds, and a process
 * that can exit once everything is removed.
 *
 * @example
 * ```ts
 * // my-poller.conformance.test.ts
 * import { describePollerConformance } from '@pollux/core/testing';
 * import * as sys from '@pollux/sys';
 * import { MyPoller } from '../src/index.js';
 *
 * describePollerConformance({ name: 'MyPoller', create: () => new MyPoller(), fds: sys });
 * ```
 */
export function describePollerConformance(options: PollerConformanceOptions): void {
  const { fds } = options;
  describe(`Poller conformance: ${options.name}`, () => {
    let poller: Poller;
    let stopDriving: (() => void) | undefined;
    let opened: number[];
    let fdsBefore: number;

    beforeEach(() => {
      fdsBefore = openFdCount();
      opened = [];
      poller = options.create();
      stopDriving = options.drive?.(poller);
    });

    afterEach(async () => {
      for (const fd of opened) poller.remove(fd);
      stopDriving?.();
      await options.dispose?.(poller);
      for (const fd of opened) fds.close(fd);
      expect(openFdCount()).toBe(fdsBefore);
    });

    function pair(): [number, number] {
      const [a, b] = fds.socketpair();
      opened.push(a, b);
      return [a, b];
    }

    /** Resolves after the poller has run `turns` times: a writable fd is dispatched once a turn. */
    async function turns(count: number): Promise<void> {
      const [clock] = pair();
      let seen = 0;
      await new Promise<void>((resolve) => {
        poller.add(clock, Ready.Writable, () => {
          if (++seen === count) {
            poller.remove(clock);
            resolve();
          }
        });
      });
    }

    /** Resolves with the readiness of the next dispatch of `fd`, removing it first. */
    function nextReady(fd: number, interest: number): Promise<number> {
      return new Promise((resolve) => {
        poller.add(fd, interest, (_fd, ready) => {
          poller.remove(fd);
          resolve(ready);
        });
      });
    }

    it('reports readable when data arrives, and writable when there is room', async () => {
      const [a, b] = pair();
      expect((await nextReady(a, Ready.Writable)) & Ready.Writable).toBeTruthy();
      fds.writev(b, ONE_BYTE, 1);
      expect((await nextReady(a, Ready.Readable)) & Ready.Readable).toBeTruthy();
    });

    it('is level-triggered: unread data is reported again on later turns', async () => {
      const [a, b] = pair();
      fds.writev(b, ONE_BYTE, 1);
      let reported = 0;
      await new Promise<void>((resolve) => {
        poller.add(a, Ready.Readable, (fd, ready) => {
          expect(fd).toBe(a);
          expect(ready & Ready.Readable).toBeTruthy();
          if (++reported === 3) {
            poller.remove(a);
            resolve();
          }
        });
      });
    });

    it('follows modify: from readable to writable, and to nothing', async () => {
      const [a, b] = pair();
      const seen: number[] = [];
      poller.add(a, Ready.Readable, (_fd, ready) => seen.push(ready));
      poller.modify(a, Ready.Writable);
      await turns(3);
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.every((ready) => (ready & Ready.Writable) !== 0)).toBe(true);
      poller.modify(a, 0);
      seen.length = 0;
      fds.writev(b, ONE_BYTE, 1);
      await turns(3);
      expect(seen).toEqual([]);
      poller.modify(a, Ready.Readable);
      await turns(3);
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.every((ready) => (ready & Ready.Readable) !== 0)).toBe(true);
      poller.remove(a);
    });

    it("never dispatches after remove, called from inside the fd's own callback", async () => {
      const [a, b] = pair();
      fds.writev(b, ONE_BYTE, 1);
      let calls = 0;
      poller.add(a, Ready.Readable, () => {
        calls++;
        poller.remove(a);
        poller.remove(a);
      });
      await turns(3);
      expect(calls).toBe(1);
    });

    it("never dispatches an fd removed by another fd's callback in the same turn", async () => {
      const [a, b] = pair();
      const [c, d] = pair();
      fds.writev(b, ONE_BYTE, 1);
      fds.writev(d, ONE_BYTE, 1);
      const calls: number[] = [];
      const removeBoth = (fd: number): void => {
        calls.push(fd);
        poller.remove(a);
        poller.remove(c);
      };
      poller.add(a, Ready.Readable, removeBoth);
      poller.add(c, Ready.Readable, removeBoth);
      await turns(3);
      expect(calls.length).toBe(1);
    });

    it("follows a modify made by another fd's callback in the same turn", async () => {
      // The engine pauses one connection from another's callback (a server-wide read stop):
      // readiness a poller fetched for it before that must not read it anyway.
      const [a, b] = pair();
      const [c, d] = pair();
      fds.writev(b, ONE_BYTE, 1);
      fds.writev(d, ONE_BYTE, 1);
      const calls: number[] = [];
      const pauseOther = (fd: number): void => {
        calls.push(fd);
        poller.modify(fd === a ? c : a, 0);
        poller.remove(fd);
      };
      poller.add(a, Ready.Readable, pauseOther);
      poller.add(c, Ready.Readable, pauseOther);
      await turns(3);
      expect(calls.length).toBe(1);
    });

    it("gives a re-added fd only its new registration's events", async () => {
      const [a, b] = pair();
      fds.writev(b, ONE_BYTE, 1);
      const old: number[] = [];
      const fresh: number[] = [];
      poller.add(a, Ready.Readable, (fd) => {
        old.push(fd);
        poller.remove(a);
        poller.add(a, Ready.Writable, (_fd, ready) => fresh.push(ready));
      });
      await turns(3);
      poller.remove(a);
      expect(old.length).toBe(1);
      expect(fresh.length).toBeGreaterThan(0);
      expect(fresh.every((ready) => (ready & Ready.Writable) !== 0)).toBe(true);
    });

    it('gives a reused fd number nothing of the closed file it replaced', async () => {
      const [a, b] = pair();
      const [victim, victimPeer] = pair();
      fds.writev(b, ONE_BYTE, 1);
      fds.writev(victimPeer, ONE_BYTE, 1);
      const stale: number[] = [];
      let reused = -1;
      await new Promise<void>((resolve) => {
        const onReady = (): void => {
          poller.remove(a);
          poller.remove(victim);
          fds.close(victim);
          opened.splice(opened.indexOf(victim), 1);
          // The lowest free number is the one just closed: the new socket takes it, with nothing
          // to read. Readiness fetched for the old file in this turn must not reach it.
          const [fresh] = pair();
          reused = fresh;
          poller.add(fresh, Ready.Readable, (_fd, ready) => stale.push(ready));
          resolve();
        };
        poller.add(a, Ready.Readable, onReady);
        poller.add(victim, Ready.Readable, onReady);
      });
      await turns(3);
      expect(reused).toBe(victim);
      expect(stale).toEqual([]);
      poller.remove(reused);
    });

    it('gives a reused fd number nothing of the old file when removed outside any callback', async () => {
      const [victim, victimPeer] = pair();
      fds.writev(victimPeer, ONE_BYTE, 1);
      let seen = 0;
      poller.add(victim, Ready.Readable, () => seen++);
      await turns(2);
      expect(seen).toBeGreaterThan(0);
      // Out of every callback and microtask of the poller: an epoll thread may have an event in flight.
      await new Promise<void>((resolve) => setTimeout(resolve, 0));
      poller.remove(victim);
      fds.close(victim);
      opened.splice(opened.indexOf(victim), 1);
      const [fresh] = pair();
      const stale: number[] = [];
      poller.add(fresh, Ready.Readable, (_fd, ready) => stale.push(ready));
      await turns(3);
      expect(fresh).toBe(victim);
      expect(stale).toEqual([]);
      poller.remove(fresh);
    });

    /** Closes `b`, the peer of a pair, for good. */
    function closePeer(b: number): void {
      fds.close(b);
      opened.splice(opened.indexOf(b), 1);
    }

    it('reports a hang-up for an fd with no interest once its peer is gone, on every turn', async () => {
      const [a, b] = pair();
      fds.writev(b, ONE_BYTE, 1);
      const seen: number[] = [];
      const thrice = new Promise<void>((resolve) => {
        poller.add(a, Ready.Readable, (_fd, ready) => {
          seen.push(ready);
          if (seen.length === 3) resolve();
        });
      });
      poller.modify(a, 0);
      closePeer(b);
      await thrice;
      poller.remove(a);
      // Unread data does not hide the hang-up, and nothing is reported that was not asked for.
      expect(seen.every((ready) => (ready & (Ready.Readable | Ready.Writable)) === 0)).toBe(true);
      expect(seen.every((ready) => (ready & Ready.HangUp) !== 0)).toBe(true);
    });

    it('reports an error for an fd with no interest whose peer died with unread data', async () => {
      const [a, b] = pair();
      fds.writev(a, ONE_BYTE, 1);
      closePeer(b);
      const ready = await nextReady(a, 0);
      expect(ready & (Ready.Error | Ready.HangUp)).toBeTruthy();
      expect(ready & (Ready.Readable | Ready.Writable)).toBe(0);
    });

    const ioInterests = [Ready.Readable, Ready.Writable, Ready.Readable | Ready.Writable];

    it('reports an error with every I/O bit the interest wants, and no other', async () => {
      for (const interest of ioInterests) {
        const [a, b] = pair();
        fds.writev(a, ONE_BYTE, 1);
        closePeer(b); // dies with unread data: a gets ECONNRESET (POLLERR)
        const ready = await nextReady(a, interest);
        expect(ready & Ready.Error, `interest ${interest}`).toBe(Ready.Error);
        expect(ready & (Ready.Readable | Ready.Writable), `interest ${interest}`).toBe(interest);
      }
    });

    it('reports a peer gone both ways with every I/O bit the interest wants, and no other', async () => {
      for (const interest of ioInterests) {
        const [a, b] = pair();
        closePeer(b);
        const ready = await nextReady(a, interest);
        expect(ready & (Ready.Readable | Ready.Writable), `interest ${interest}`).toBe(interest);
        // Writing alone, a backend may only say Writable: the write then fails with EPIPE.
        if (interest & Ready.Readable) expect(ready & Ready.HangUp, `interest ${interest}`).toBe(Ready.HangUp);
      }
    });

    it('reports nothing for an fd with no interest whose peer only shut its writing side', async () => {
      const [a, b] = pair();
      const seen: number[] = [];
      poller.add(a, Ready.Readable, (_fd, ready) => seen.push(ready));
      poller.modify(a, 0);
      fds.writev(b, ONE_BYTE, 1);
      fds.shutdown(b, 'write');
      await turns(5);
      expect(seen).toEqual([]);
      // The half-closed peer still reads: it is not gone, and reading again finds the data and the end.
      poller.modify(a, Ready.Readable);
      await turns(2);
      expect(seen.some((ready) => (ready & (Ready.Readable | Ready.HangUp)) !== 0)).toBe(true);
      poller.remove(a);
    });

    it('runs a job queued outside any callback', async () => {
      await new Promise<void>((resolve) => poller.job(resolve));
    });

    it('serves many fds at once', async () => {
      const count = 200;
      const pending = new Set<number>();
      await new Promise<void>((resolve) => {
        for (let i = 0; i < count; i++) {
          const [a, b] = pair();
          pending.add(a);
          fds.writev(b, ONE_BYTE, 1);
          poller.add(a, Ready.Readable, (fd) => {
            poller.remove(fd);
            pending.delete(fd);
            if (pending.size === 0) resolve();
          });
        }
      });
    });

    it('reports a hang-up: the peer closed and a read returns end of file', async () => {
      const [a, b] = pair();
      fds.shutdown(b, 'write');
      const ready = await nextReady(a, Ready.Readable);
      expect(ready & (Ready.Readable | Ready.HangUp)).toBeTruthy();
      expect(fds.read(a, new Uint8Array(8), 0, 8)).toBe(0);
    });

    it('reports an error: the peer died with unread data and a read returns the error', async () => {
      const [a, b] = pair();
      fds.writev(a, ONE_BYTE, 1);
      fds.close(b);
      opened.splice(opened.indexOf(b), 1);
      const ready = await nextReady(a, Ready.Readable);
      expect(ready & (Ready.Readable | Ready.Error)).toBeTruthy();
      expect(fds.read(a, new Uint8Array(8), 0, 8)).toBeLessThan(0);
    });

    it('keeps reporting after an error until the data queued ahead of it has been read', async () => {
      const [a, b] = pair();
      fds.writev(b, [new TextEncoder().encode('queued before the reset')], 1);
      fds.writev(a, ONE_BYTE, 1);
      fds.close(b);
      opened.splice(opened.indexOf(b), 1);
      const reads: number[] = [];
      await new Promise<void>((resolve) => {
        poller.add(a, Ready.Readable, () => {
          const n = fds.read(a, new Uint8Array(8), 0, 8);
          reads.push(n);
          if (n <= 0) {
            poller.remove(a);
            resolve();
          }
        });
      });
      expect(reads.slice(0, 3)).toEqual([8, 8, 7]);
      expect(reads.at(-1)).toBeLessThanOrEqual(0);
    });

    it('runs jobs in order, after the callback that queued them has returned', async () => {
      const [a, b] = pair();
      fds.writev(b, ONE_BYTE, 1);
      const log: string[] = [];
      await new Promise<void>((resolve) => {
        poller.add(a, Ready.Readable, () => {
          poller.remove(a);
          poller.job(() => log.push('first'));
          poller.job(() => {
            log.push('second');
            poller.job(() => {
              log.push('queued by a job');
              resolve();
            });
          });
          log.push('callback returned');
        });
      });
      expect(log).toEqual(['callback returned', 'first', 'second', 'queued by a job']);
    });

    it('rejects a second add with EEXIST and modify of an unknown fd with ENOENT', () => {
      const [a] = pair();
      poller.add(a, Ready.Readable, () => undefined);
      expect(() => poller.add(a, Ready.Readable, () => undefined)).toThrowError(IpcError);
      expect(() => poller.add(a, Ready.Readable, () => undefined)).toThrowError(
        expect.objectContaining({ code: 'EEXIST' }),
      );
      poller.remove(a);
      poller.remove(a);
      expect(() => poller.modify(a, Ready.Readable)).toThrowError(expect.objectContaining({ code: 'ENOENT' }));
    });

    /** Resolves once a timer of `ms` has run. */
    function sleep(ms: number): Promise<void> {
      return new Promise((resolve) => poller.timer(ms, resolve));
    }

    it('runs a timer no sooner than its delay by now(), and never from inside timer()', async () => {
      // One after another, so each starts at another point of whatever clock the poller waits on.
      const delays = [0, 1, 2, 3, 0, 1, 2, 5, 1, 0, 2, 1, 3, 1, 2, 0, 1, 4, 1, 2];
      const early: string[] = [];
      for (const [i, ms] of delays.entries()) {
        await new Promise<void>((resolve) => {
          let returned = false;
          const start = poller.now();
          poller.timer(ms, () => {
            const elapsed = poller.now() - start;
            if (!returned) early.push(`timer ${i} ran inside timer()`);
            if (elapsed < ms) early.push(`timer ${i} of ${ms} ms ran after ${elapsed} ms`);
            resolve();
          });
          returned = true;
        });
      }
      expect(early).toEqual([]);
    });

    it('runs timers by deadline, those made in a row with equal delays in the order made', async () => {
      const delays = [3, 3, 0, 0, 3, 5, 5, 5, 9, 9, 3];
      const order: number[] = [];
      await new Promise<void>((resolve) => {
        for (const [i, ms] of delays.entries()) {
          poller.timer(ms, () => {
            order.push(i);
            if (order.length === delays.length) resolve();
          });
        }
      });
      // Made later with an equal or longer delay means a deadline no earlier: such a timer runs after.
      for (const [i, ms] of delays.entries()) {
        for (let j = i + 1; j < delays.length; j++) {
          if (delays[j]! >= ms)
            expect(order.indexOf(j), `timer ${j} ran before ${i}`).toBeGreaterThan(order.indexOf(i));
        }
      }
    });

    it('does not run a cancelled timer, even one cancelled by an earlier timer of the same batch', async () => {
      const ran: string[] = [];
      poller.timer(0, () => ran.push('cancelled at once')).cancel();
      let second: Timer | undefined;
      const first = poller.timer(2, () => {
        ran.push('first');
        second!.cancel();
      });
      second = poller.timer(2, () => ran.push('second'));
      await sleep(10);
      // After it ran, and twice: nothing happens.
      first.cancel();
      first.cancel();
      await sleep(1);
      expect(ran).toEqual(['first']);
    });

    it('runs a timer made inside a dispatch callback, and one made inside a job', async () => {
      const [a] = pair();
      const log: string[] = [];
      await new Promise<void>((resolve) => {
        poller.add(a, Ready.Writable, () => {
          poller.remove(a);
          poller.timer(0, () => {
            log.push('made in a dispatch');
            poller.job(() =>
              poller.timer(1, () => {
                log.push('made in a job');
                resolve();
              }),
            );
          });
        });
      });
      expect(log).toEqual(['made in a dispatch', 'made in a job']);
    });

    it('wakes for a timer while no watched fd is ready', async () => {
      const [a] = pair();
      let dispatched = 0;
      poller.add(a, Ready.Readable, () => dispatched++);
      const start = poller.now();
      await sleep(20);
      expect(poller.now() - start).toBeGreaterThanOrEqual(20);
      expect(dispatched).toBe(0);
      poller.remove(a);
    });

    it('keeps a monotonic clock', async () => {
      let last = poller.now();
      const backwards: number[] = [];
      const sample = (): void => {
        const now = poller.now();
        if (!(now >= last)) backwards.push(now - last);
        last = now;
      };
      for (let turn = 0; turn < 20; turn++) {
        for (let i = 0; i < 100; i++) sample();
        await sleep(turn % 3);
        sample();
      }
      expect(Number.isFinite(last)).toBe(true);
      expect(backwards).toEqual([]);
    });

    it('waits at least MAX_TIMER_DELAY for a longer delay, and refuses NaN', async () => {
      let ran = false;
      // setTimeout would run this after 1 ms.
      const far = poller.timer(MAX_TIMER_DELAY + 1000, () => (ran = true));
      await sleep(20);
      far.cancel();
      expect(ran).toBe(false);
      expect(() => poller.timer(Number.NaN, () => {})).toThrowError(RangeError);
    });

    /** Runs `script` in a child process that imports `exitModule` as `m`; resolves once it ends. */
    async function runChild(script: string): Promise<{ output: string; code: number | null; exited: boolean }> {
      // A child that cannot exit is killed, so the test fails instead of hanging the run.
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          '--input-type=module',
          '-e',
          `const m = await import(${JSON.stringify(options.exitModule)});\n${script}`,
        ],
        {
          cwd: dirname(options.exitModule!),
          stdio: ['ignore', 'pipe', 'inherit'],
          timeout: EXIT_DEADLINE_MS,
          killSignal: 'SIGKILL',
        },
      );
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
        child.on('close', (exitCode, exitSignal) => resolve([exitCode, exitSignal])),
      );
      return { output: output.trim(), code, exited: signal === null };
    }

    const notExited = `the process did not exit by itself within ${EXIT_DEADLINE_MS} ms`;

    it.skipIf(options.exitModule === undefined)('lets the process exit once every fd is removed', async () => {
      const child = await runChild(`
        const fds = m.fds;
        const poller = m.createPoller();
        const stop = m.drivePoller?.(poller);
        const [a, b] = fds.socketpair();
        fds.writev(b, [new Uint8Array([1])], 1);
        poller.add(a, 1, () => {
          poller.remove(a);
          fds.close(a);
          fds.close(b);
          poller.job(() => { stop?.(); console.log('removed'); });
        });
      `);
      expect(child.output).toBe('removed');
      expect(child.exited, notExited).toBe(true);
      expect(child.code).toBe(0);
    });

    const onNodeLoop = options.exitModule !== undefined && options.drive === undefined;

    it.skipIf(!onNodeLoop)('lets the process exit while timers wait that are not keepAlive', async () => {
      const child = await runChild(`
        const poller = m.createPoller();
        poller.timer(${MAX_TIMER_DELAY}, () => console.log('ran'));
        poller.timer(${MAX_TIMER_DELAY}, () => console.log('ran'), true).cancel();
        console.log('scheduled');
      `);
      expect(child.output).toBe('scheduled');
      expect(child.exited, notExited).toBe(true);
      expect(child.code).toBe(0);
    });

    it.skipIf(!onNodeLoop)('holds the process open for a keepAlive timer until it has run', async () => {
      const child = await runChild(`
        const poller = m.createPoller();
        poller.timer(${MAX_TIMER_DELAY}, () => console.log('never'));
        poller.timer(50, () => console.log('kept alive'), true);
        poller.timer(5, () => console.log('not keepAlive, ran meanwhile'));
      `);
      expect(child.output.split('\n')).toEqual(['not keepAlive, ran meanwhile', 'kept alive']);
      expect(child.exited, notExited).toBe(true);
      expect(child.code).toBe(0);
    });
  });
}
