import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  EPOLLERR,
  EPOLLHUP,
  EPOLLIN,
  EPOLLOUT,
  EPOLLRDHUP,
  close,
  epollAdd,
  epollCreate,
  epollModify,
  epollRemove,
  epollWait,
  errnoName,
  read,
  socketpair,
  writev,
} from '../src/index.js';
import { checkFdLeaks, fdFlags, O_CLOEXEC } from './fd-leak.js';

checkFdLeaks();

const owned: number[] = [];
afterEach(() => {
  for (const fd of owned.splice(0)) close(fd);
});

/** A new epoll set and a socketpair, closed after the test. */
function setAndPair(): { ep: number; a: number; b: number } {
  const ep = epollCreate();
  expect(ep).toBeGreaterThanOrEqual(0);
  const [a, b] = socketpair();
  owned.push(ep, a, b);
  return { ep, a, b };
}

/** One non-blocking epollWait, as `fd → events` pairs sorted by fd. */
function ready(ep: number, capacity = 8, timeoutMs = 0): [number, number][] {
  const fds = new Int32Array(capacity);
  const events = new Int32Array(capacity);
  const count = epollWait(ep, fds, events, timeoutMs);
  expect(count, errnoName(count)).toBeGreaterThanOrEqual(0);
  return Array.from({ length: count }, (_, i): [number, number] => [fds[i] ?? -1, events[i] ?? -1]).sort(
    (x, y) => x[0] - y[0],
  );
}

describe('epoll set', () => {
  it('exposes the Linux flag values', () => {
    expect({ EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP, EPOLLRDHUP }).toEqual({
      EPOLLIN: 1,
      EPOLLOUT: 4,
      EPOLLERR: 8,
      EPOLLHUP: 16,
      EPOLLRDHUP: 0x2000,
    });
  });

  it('creates a close-on-exec epoll fd', () => {
    const { ep } = setAndPair();
    expect(fdFlags(ep) & O_CLOEXEC).toBe(O_CLOEXEC);
  });

  it('reports nothing at once with timeout 0, then writability and readability as they come', () => {
    const { ep, a, b } = setAndPair();
    expect(epollAdd(ep, b, EPOLLIN)).toBe(0);
    expect(ready(ep)).toEqual([]);
    expect(epollAdd(ep, a, EPOLLOUT)).toBe(0);
    expect(ready(ep)).toEqual([[a, EPOLLOUT]]);
    writev(a, [new Uint8Array(1)], 1);
    expect(ready(ep, 8, -1)).toEqual([
      [a, EPOLLOUT],
      [b, EPOLLIN],
    ]);
  });

  it('is level-triggered: an unread byte is reported again until it is read', () => {
    const { ep, a, b } = setAndPair();
    expect(epollAdd(ep, b, EPOLLIN)).toBe(0);
    writev(a, [new Uint8Array(1)], 1);
    expect(ready(ep)).toEqual([[b, EPOLLIN]]);
    expect(ready(ep)).toEqual([[b, EPOLLIN]]);
    expect(read(b, new Uint8Array(4), 0, 4)).toBe(1);
    expect(ready(ep)).toEqual([]);
  });

  it('modifies the events watched for an fd and removes it', () => {
    const { ep, a, b } = setAndPair();
    expect(epollAdd(ep, a, EPOLLIN)).toBe(0);
    expect(ready(ep)).toEqual([]);
    expect(epollModify(ep, a, EPOLLIN | EPOLLOUT)).toBe(0);
    expect(ready(ep)).toEqual([[a, EPOLLOUT]]);
    expect(epollModify(ep, a, 0)).toBe(0);
    expect(ready(ep)).toEqual([]);
    expect(epollModify(ep, a, EPOLLOUT)).toBe(0);
    expect(epollRemove(ep, a)).toBe(0);
    expect(ready(ep)).toEqual([]);
    expect(epollAdd(ep, b, EPOLLOUT)).toBe(0);
    expect(ready(ep)).toEqual([[b, EPOLLOUT]]);
  });

  it('reports a closed peer as EPOLLIN | EPOLLRDHUP | EPOLLHUP', () => {
    const { ep, b } = setAndPair();
    const a = owned.splice(1, 1)[0] ?? -1;
    expect(epollAdd(ep, b, EPOLLIN | EPOLLRDHUP)).toBe(0);
    close(a);
    expect(ready(ep)).toEqual([[b, EPOLLIN | EPOLLRDHUP | EPOLLHUP]]);
  });

  it('hands out at most as many events as the arrays hold, the rest on the next call', () => {
    const ep = epollCreate();
    owned.push(ep);
    const pairs = Array.from({ length: 40 }, () => socketpair());
    const fds = pairs.flat();
    owned.push(...fds);
    for (const fd of fds) expect(epollAdd(ep, fd, EPOLLOUT)).toBe(0);
    // Level-triggered sets hand out ready fds round-robin, so 80 come back in 27 calls of 3.
    const seen = new Set<number>();
    for (let call = 0; call < 27; call++) {
      const batch = ready(ep, 3);
      expect(batch.length).toBeLessThanOrEqual(3);
      for (const [fd, events] of batch) {
        expect(events).toBe(EPOLLOUT);
        seen.add(fd);
      }
    }
    expect([...seen].sort((x, y) => x - y)).toEqual([...fds].sort((x, y) => x - y));
    expect(ready(ep, 128)).toHaveLength(80);
  });

  it('returns -errno for bad fds and refuses what epoll cannot watch', () => {
    const { ep, a } = setAndPair();
    const notOpen = 1 << 20;
    const file = openSync(fileURLToPath(import.meta.url), 'r');
    try {
      expect(errnoName(epollAdd(ep, notOpen, EPOLLIN))).toBe('EBADF');
      expect(errnoName(epollAdd(notOpen, a, EPOLLIN))).toBe('EBADF');
      expect(errnoName(epollAdd(a, ep, EPOLLIN))).toBe('EINVAL');
      expect(errnoName(epollAdd(ep, ep, EPOLLIN))).toBe('EINVAL');
      expect(errnoName(epollAdd(ep, file, EPOLLIN))).toBe('EPERM');
      expect(epollAdd(ep, a, EPOLLIN)).toBe(0);
      expect(errnoName(epollAdd(ep, a, EPOLLIN))).toBe('EEXIST');
      expect(epollRemove(ep, a)).toBe(0);
      expect(errnoName(epollRemove(ep, a))).toBe('ENOENT');
      expect(errnoName(epollModify(ep, a, EPOLLIN))).toBe('ENOENT');
      const slots = new Int32Array(1);
      expect(errnoName(epollWait(notOpen, slots, slots, 0))).toBe('EBADF');
      expect(errnoName(epollWait(a, slots, new Int32Array(1), 0))).toBe('EINVAL');
    } finally {
      closeSync(file);
    }
  });

  it('checks its arguments', () => {
    const { ep, a } = setAndPair();
    const one = new Int32Array(1);
    expect(() => epollWait(ep, [0] as unknown as Int32Array, one, 0)).toThrow(TypeError);
    expect(() => epollWait(ep, one, new Uint32Array(1) as unknown as Int32Array, 0)).toThrow(TypeError);
    expect(() => epollWait(ep, new Int32Array(0), one, 0)).toThrow(RangeError);
    expect(() => epollWait(ep, one, one, 2 ** 31)).toThrow(RangeError);
    expect(() => epollAdd(ep, -1, EPOLLIN)).toThrow(RangeError);
    expect(() => epollAdd(ep, a, 2 ** 32)).toThrow(RangeError);
  });

  it('keeps waiting through a signal instead of returning EINTR', async () => {
    const { ep, a, b } = setAndPair();
    expect(epollAdd(ep, b, EPOLLIN)).toBe(0);
    const onSignal = (): void => {};
    process.on('SIGUSR2', onSignal);
    // The child signals this process once its main thread sleeps in epoll_wait, waits until the
    // signal was taken and the thread sleeps in epoll_wait again, and only then writes a byte.
    const child = spawn(
      'sh',
      [
        '-c',
        `blocked() { grep -q epoll /proc/${process.pid}/wchan; }
         until blocked; do :; done
         kill -USR2 ${process.pid}
         until grep -q '^ShdPnd:\\s*0*$' /proc/${process.pid}/status && blocked; do :; done
         printf x`,
      ],
      { stdio: ['ignore', a, 'inherit'] },
    );
    try {
      expect(ready(ep, 8, -1)).toEqual([[b, EPOLLIN]]);
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      process.off('SIGUSR2', onSignal);
    }
  });
});
