import { describe, expect, it } from 'vitest';
import {
  POLLERR,
  POLLHUP,
  POLLIN,
  POLLNVAL,
  POLLOUT,
  POLLRDHUP,
  close,
  poll,
  socketpair,
  writev,
} from '../src/index.js';
import { checkFdLeaks } from './fd-leak.js';

checkFdLeaks();

function pollOnce(fds: number[], events: number[], timeoutMs = 0): { ready: number; revents: number[] } {
  const revents = new Int32Array(fds.length).fill(-1);
  const ready = poll(Int32Array.from(fds), Int32Array.from(events), revents, fds.length, timeoutMs);
  return { ready, revents: [...revents] };
}

describe('poll', () => {
  it('exposes the Linux flag values', () => {
    expect({ POLLIN, POLLOUT, POLLERR, POLLHUP, POLLNVAL, POLLRDHUP }).toEqual({
      POLLIN: 1,
      POLLOUT: 4,
      POLLERR: 8,
      POLLHUP: 16,
      POLLNVAL: 32,
      POLLRDHUP: 0x2000,
    });
  });

  it('returns 0 at once with timeout 0 when nothing is ready', () => {
    const [a, b] = socketpair();
    expect(pollOnce([a], [POLLIN])).toEqual({ ready: 0, revents: [0] });
    close(a);
    close(b);
  });

  it('reports writability and, after a write, readability', () => {
    const [a, b] = socketpair();
    expect(pollOnce([a, b], [POLLOUT, POLLIN])).toEqual({ ready: 1, revents: [POLLOUT, 0] });
    writev(a, [new Uint8Array(1)], 1);
    expect(pollOnce([a, b], [POLLOUT, POLLIN], -1)).toEqual({ ready: 2, revents: [POLLOUT, POLLIN] });
    close(a);
    close(b);
  });

  it('waits for the timeout when nothing becomes ready', () => {
    const [a, b] = socketpair();
    const start = performance.now();
    expect(pollOnce([a], [POLLIN], 20).ready).toBe(0);
    expect(performance.now() - start).toBeGreaterThanOrEqual(15);
    close(a);
    close(b);
  });

  it('reports a closed peer as POLLIN | POLLRDHUP | POLLHUP', () => {
    const [a, b] = socketpair();
    close(a);
    const { ready, revents } = pollOnce([b], [POLLIN | POLLRDHUP]);
    expect(ready).toBe(1);
    expect(revents[0]).toBe(POLLIN | POLLRDHUP | POLLHUP);
    close(b);
  });

  it('reports POLLNVAL for an fd that is not open and ignores negative fds', () => {
    expect(pollOnce([1 << 20, -1], [POLLIN, POLLIN])).toEqual({ ready: 1, revents: [POLLNVAL, 0] });
  });

  it('uses only the first `count` entries and checks its arguments', () => {
    const [a, b] = socketpair();
    const revents = new Int32Array([-1, -1]);
    expect(poll(Int32Array.of(a, b), Int32Array.of(POLLOUT, POLLOUT), revents, 1, 0)).toBe(1);
    expect([...revents]).toEqual([POLLOUT, -1]);
    expect(() => poll(Int32Array.of(a), Int32Array.of(POLLIN), new Int32Array(1), 2, 0)).toThrow(RangeError);
    expect(() => poll([a] as unknown as Int32Array, Int32Array.of(POLLIN), new Int32Array(1), 1, 0)).toThrow(TypeError);
    close(a);
    close(b);
  });

  it('handles more fds than fit on the stack', () => {
    const pairs = Array.from({ length: 40 }, () => socketpair());
    const fds = pairs.flat();
    const { ready, revents } = pollOnce(
      fds,
      fds.map(() => POLLOUT),
    );
    expect(ready).toBe(80);
    expect(revents.every((r) => r === POLLOUT)).toBe(true);
    for (const fd of fds) close(fd);
  });
});
