import { execFile } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it, vi } from 'vitest';
import {
  FdWatcher,
  SysError,
  WATCH_DISCONNECT,
  WATCH_READABLE,
  WATCH_WRITABLE,
  close,
  read,
  socketError,
  socketpair,
  writev,
} from '../src/index.js';
import { native } from '../src/native.js';
import { checkFdLeaks, loopTurns } from './fd-leak.js';

checkFdLeaks();

const UV_EBADF = -9;
const ECONNRESET = 104;
const one = [new Uint8Array([1])];

type Event = [status: number, events: number];

/** Resolves with the first event of a fresh watcher (of `Watcher`, a copy of the class) on `fd`, then closes it. */
function nextEvent(fd: number, interest: number, Watcher: typeof FdWatcher = FdWatcher): Promise<Event> {
  return new Promise((resolve) => {
    const watcher = new Watcher(fd, (status, events) => {
      watcher.close();
      resolve([status, events]);
    });
    watcher.start(interest);
  });
}

function pair(): { a: number; b: number; dispose(): void } {
  const [a, b] = socketpair();
  return {
    a,
    b,
    dispose() {
      close(a);
      close(b);
    },
  };
}

describe('FdWatcher events', () => {
  it('exposes libuv flag values', () => {
    expect([WATCH_READABLE, WATCH_WRITABLE, WATCH_DISCONNECT]).toEqual([1, 2, 4]);
  });

  it('fires readable when data arrives', async () => {
    const { a, b, dispose } = pair();
    const event = nextEvent(b, WATCH_READABLE);
    expect(writev(a, one, 1)).toBe(1);
    expect(await event).toEqual([0, WATCH_READABLE]);
    dispose();
  });

  it('fires writable on a socket with buffer space', async () => {
    const { a, dispose } = pair();
    expect(await nextEvent(a, WATCH_WRITABLE)).toEqual([0, WATCH_WRITABLE]);
    dispose();
  });

  it('fires disconnect (with readable EOF) when the peer closes', async () => {
    const [a, b] = socketpair();
    const event = nextEvent(b, WATCH_READABLE | WATCH_DISCONNECT);
    close(a);
    expect(await event).toEqual([0, WATCH_READABLE | WATCH_DISCONNECT]);
    expect(read(b, new Uint8Array(1), 0, 1)).toBe(0);
    close(b);
  });

  it('changes interest when started again', async () => {
    const { a, b, dispose } = pair();
    writev(b, one, 1); // a is readable and writable
    const events: number[] = [];
    await new Promise<void>((resolve) => {
      const watcher = new FdWatcher(a, (_status, ready) => {
        events.push(ready);
        if (events.length === 1) watcher.start(WATCH_WRITABLE);
        else {
          watcher.close();
          resolve();
        }
      });
      watcher.start(WATCH_READABLE);
    });
    expect(events).toEqual([WATCH_READABLE, WATCH_WRITABLE]);
    dispose();
  });

  it('reports POLLERR as status -EBADF and stops itself (libuv behaviour)', async () => {
    const [a, b] = socketpair();
    writev(a, one, 1);
    close(b); // b dies with unread data: a gets ECONNRESET as a pending error
    const calls: Event[] = [];
    const watcher = new FdWatcher(a, (status, events) => calls.push([status, events]));
    watcher.start(WATCH_READABLE);
    await loopTurns(3);
    expect(calls).toEqual([[UV_EBADF, 0]]);
    expect(socketError(a)).toBe(ECONNRESET);
    watcher.close();
    close(a);
  });

  it('runs microtasks after each callback, like any Node callback', async () => {
    const p1 = pair();
    const p2 = pair();
    writev(p1.a, one, 1);
    writev(p2.a, one, 1);
    const log: string[] = [];
    const watchers: FdWatcher[] = [];
    await new Promise<void>((resolve) => {
      for (const fd of [p1.b, p2.b]) {
        const watcher = new FdWatcher(fd, () => {
          watcher.close();
          log.push(`callback ${fd}`);
          queueMicrotask(() => {
            log.push(`microtask ${fd}`);
            if (log.length === 4) resolve();
          });
        });
        watchers.push(watcher);
        watcher.start(WATCH_READABLE);
      }
    });
    expect(log.map((entry) => entry.split(' ')[0])).toEqual(['callback', 'microtask', 'callback', 'microtask']);
    p1.dispose();
    p2.dispose();
  });
});

describe('FdWatcher lifecycle', () => {
  it('delivers nothing after stop() called inside the callback, and restarts', async () => {
    const { a, b, dispose } = pair();
    writev(a, one, 1); // stays readable: a level-triggered watcher would fire every turn
    let calls = 0;
    const watcher = new FdWatcher(b, () => {
      calls += 1;
      watcher.stop();
    });
    watcher.start(WATCH_READABLE);
    await loopTurns(4);
    expect(calls).toBe(1);
    watcher.start(WATCH_READABLE);
    await loopTurns(4);
    expect(calls).toBe(2);
    watcher.close();
    dispose();
  });

  it("drops another watcher's event fetched in the same loop iteration once stopped", async () => {
    const p1 = pair();
    const p2 = pair();
    writev(p1.a, one, 1);
    writev(p2.a, one, 1);
    const calls: number[] = [];
    const w1: FdWatcher = new FdWatcher(p1.b, () => {
      calls.push(1);
      w1.stop();
      w2.stop();
    });
    const w2: FdWatcher = new FdWatcher(p2.b, () => {
      calls.push(2);
      w1.close();
      w2.close();
    });
    w1.start(WATCH_READABLE);
    w2.start(WATCH_READABLE);
    await loopTurns(4);
    expect(calls).toHaveLength(1);
    w1.close();
    w2.close();
    p1.dispose();
    p2.dispose();
  });

  it('close() is idempotent, safe inside the callback, and ends all calls', async () => {
    const { a, b, dispose } = pair();
    writev(a, one, 1);
    let calls = 0;
    const watcher = new FdWatcher(b, () => {
      calls += 1;
      watcher.close();
      watcher.close();
    });
    watcher.start(WATCH_READABLE | WATCH_WRITABLE);
    await loopTurns(4);
    expect(calls).toBe(1);
    watcher.close();
    watcher.stop();
    watcher.ref();
    watcher.unref();
    expect(() => watcher.start(WATCH_READABLE)).toThrow(SysError);
    dispose();
  });

  it('never calls back after close(), even with an event already pending', async () => {
    const { a, b, dispose } = pair();
    let calls = 0;
    const watcher = new FdWatcher(b, () => {
      calls += 1;
    });
    watcher.start(WATCH_READABLE);
    writev(a, one, 1);
    watcher.close();
    await loopTurns(4);
    expect(calls).toBe(0);
    // The fd is free for a new watcher.
    expect(await nextEvent(b, WATCH_READABLE)).toEqual([0, WATCH_READABLE]);
    dispose();
  });

  it('refuses a second active watcher on one fd (EEXIST) and bad arguments', () => {
    const { a, dispose } = pair();
    const first = new FdWatcher(a, () => {});
    const idle = new FdWatcher(a, () => {});
    first.start(WATCH_READABLE);
    const error = (() => {
      try {
        new FdWatcher(a, () => {});
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toMatchObject({ code: 'EEXIST', syscall: 'uv_poll_init' });
    expect(() => idle.start(WATCH_READABLE)).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(() => first.start(64)).toThrow(RangeError);
    expect(() => new FdWatcher(a, 'x' as unknown as () => void)).toThrow(TypeError);
    // The dispatch every watcher's events go through is only ever replaced by a function.
    const dispatchTo = native.watcherDispatchTo as (...args: unknown[]) => void;
    expect(() => dispatchTo()).toThrow(TypeError);
    expect(() => dispatchTo(1)).toThrow(TypeError);
    expect(() => dispatchTo(() => {}, 2)).toThrow(TypeError);
    first.close();
    idle.close();
    dispose();
  });

  it('throws EPERM for a regular file, which epoll cannot watch', () => {
    const fd = openSync(fileURLToPath(import.meta.url), 'r');
    expect(() => new FdWatcher(fd, () => {})).toThrow(expect.objectContaining({ code: 'EPERM' }));
    closeSync(fd);
  });

  it('lets an idle, unreachable watcher be collected but keeps a started one alive', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const { a, b, dispose } = pair();
    let collected = false;
    const registry = new FinalizationRegistry(() => {
      collected = true;
    });
    let fired = 0;
    // Separate functions: closures created in one scope share a context, which
    // would let the active watcher's callback pin the idle one.
    const startIdle = (): void => {
      // The callback captures its own watcher: that cycle must not pin it.
      const idle: FdWatcher = new FdWatcher(a, () => idle.stop());
      idle.start(WATCH_WRITABLE);
      idle.stop();
      registry.register(idle, 'idle');
    };
    const startActive = (): void => {
      const active: FdWatcher = new FdWatcher(b, () => {
        fired += 1;
        active.close();
      });
      active.start(WATCH_READABLE);
    };
    startIdle();
    startActive();
    for (let i = 0; i < 50 && !collected; i++) {
      gc();
      await loopTurns(1);
    }
    expect(collected).toBe(true);
    writev(a, one, 1);
    await loopTurns(3);
    expect(fired).toBe(1);
    dispose();
  });

  it('keeps delivering when another copy of the module loads in the same process', async () => {
    // Two copies that load the same addon file (a bundle beside the sources, say) share its one
    // dispatch function, which the copy loaded last installs.
    vi.resetModules();
    const second = await import('../src/fd-watcher.js');
    expect(second.FdWatcher).not.toBe(FdWatcher);
    const { a, b, dispose } = pair();
    const events = await Promise.all([nextEvent(a, WATCH_WRITABLE), nextEvent(b, WATCH_WRITABLE, second.FdWatcher)]);
    expect(events).toEqual([
      [0, WATCH_WRITABLE],
      [0, WATCH_WRITABLE],
    ]);
    dispose();
  });
});

describe('FdWatcher in a separate process', () => {
  const addon = fileURLToPath(new URL('../build/Release/pollux_sys.node', import.meta.url));
  // The native watcher API as FdWatcher uses it: one dispatch function finds each watcher's callback on it.
  const prelude = `
    const sys = require(${JSON.stringify(addon)});
    const [a, b] = sys.socketpair();
    sys.watcherDispatchTo(function (status, events) { this.cb(status, events); });
    const watch = (fd, interest, cb) => { const self = { cb }; sys.watcherInit(self, fd); sys.watcherStart(self, interest); return self; };
  `;

  function runNode(script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(process.execPath, ['-e', prelude + script], (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
      });
    });
  }

  it('refuses a watcher before any dispatch is installed: its events would have nowhere to go', async () => {
    const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) => {
      const script = `
        const sys = require(${JSON.stringify(addon)});
        const [a, b] = sys.socketpair();
        try { sys.watcherInit({}, a); console.log('made'); } catch (error) { console.log(error.name, error.message); }
      `;
      execFile(process.execPath, ['-e', script], (error, out) => (error ? reject(error) : resolve({ stdout: out })));
    });
    expect(stdout.trim()).toBe('TypeError watcherDispatchTo must be called before watcherInit');
  });

  it('turns an exception thrown by onEvent into a normal uncaught exception', async () => {
    const result = await runNode(`
      watch(a, sys.WATCH_WRITABLE, () => { throw new Error('boom from onEvent'); });
    `);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('boom from onEvent');
  });

  it('keeps the watcher working after an exception handled by uncaughtException', async () => {
    const result = await runNode(`
      let calls = 0;
      process.on('uncaughtException', (error) => {
        console.log('caught', error.message);
        Promise.resolve().then(() => console.log('microtask'));
      });
      const self = watch(a, sys.WATCH_WRITABLE, () => {
        calls += 1;
        if (calls < 3) throw new Error('throw ' + calls);
        sys.watcherClose(self);
        console.log('calls', calls);
        sys.close(a); sys.close(b);
      });
    `);
    expect(result.stdout.trim().split('\n')).toEqual([
      'caught throw 1',
      'microtask',
      'caught throw 2',
      'microtask',
      'calls 3',
    ]);
    expect(result.code).toBe(0);
  });

  it('lets the process exit while an unref()ed watcher is started', async () => {
    const result = await runNode(`
      const self = watch(a, sys.WATCH_READABLE, () => {});
      sys.watcherUnref(self);
      process.on('exit', () => console.log('exited'));
    `);
    expect(result).toMatchObject({ code: 0, stdout: 'exited\n' });
  });

  it('closes fds that arrived with MSG_CTRUNC and returns -EMSGSIZE', async () => {
    const result = await runNode(`
      const fs = require('node:fs');
      const { execFileSync } = require('node:child_process');
      const count = () => fs.readdirSync('/proc/self/fd').length;
      const [x, y] = sys.socketpair();
      const toPass = [x, y, x, y];
      // Leave exactly two free fd numbers below the limit: 2 of the 4 fds arrive.
      const open = new Set(fs.readdirSync('/proc/self/fd').map(Number));
      let limit = 0;
      for (let free = 0; free < 2; limit++) if (!open.has(limit)) free++;
      execFileSync('prlimit', ['--pid', String(process.pid), '--nofile=' + limit + ':' + limit]);
      const before = count();
      console.log(sys.sendmsg(a, [new Uint8Array(1)], 1, toPass));
      const out = [];
      console.log(sys.recvmsg(b, new Uint8Array(4), 0, 4, out), out.length, count() - before);
    `);
    expect(result.stderr).toBe('');
    expect(result.stdout.trim().split('\n')).toEqual(['1', '-90 0 0']);
  });
});
