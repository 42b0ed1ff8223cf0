import { describe, expect, it } from 'vitest';
import { constants } from 'node:os';
import { POLLIN, close, eventfdCreate, eventfdRead, eventfdWrite, poll } from '../src/index.js';
import { checkFdLeaks } from './fd-leak.js';

checkFdLeaks();

const { EAGAIN, EBADF } = constants.errno;

function readable(fd: number): boolean {
  const revents = new Int32Array(1);
  poll(Int32Array.of(fd), Int32Array.of(POLLIN), revents, 1, 0);
  return (revents[0]! & POLLIN) !== 0;
}

describe('eventfd', () => {
  it('is readable while its counter is above 0, and a read takes the whole count', () => {
    const fd = eventfdCreate();
    expect(fd).toBeGreaterThanOrEqual(0);
    expect(readable(fd)).toBe(false);
    expect(eventfdRead(fd)).toBe(-EAGAIN);
    expect(eventfdWrite(fd)).toBe(0);
    expect(eventfdWrite(fd, 41)).toBe(0);
    expect(readable(fd)).toBe(true);
    expect(eventfdRead(fd)).toBe(42);
    expect(readable(fd)).toBe(false);
    close(fd);
  });

  it('starts at its initial count', () => {
    const fd = eventfdCreate(3);
    expect(eventfdRead(fd)).toBe(3);
    close(fd);
  });

  it('returns -EAGAIN instead of blocking when the counter would overflow', () => {
    const fd = eventfdCreate();
    // 2^64 - 2 is the most the counter holds: fill it in exact 2^53 steps, then one more is too much.
    let status = 0;
    for (let i = 0; i < 2048 && status === 0; i++) status = eventfdWrite(fd, 2 ** 53);
    expect(status).toBe(-EAGAIN);
    expect(eventfdRead(fd)).toBeGreaterThan(2 ** 63);
    close(fd);
  });

  it('reports a closed fd as -EBADF', () => {
    const fd = eventfdCreate();
    close(fd);
    expect(eventfdWrite(fd)).toBe(-EBADF);
    expect(eventfdRead(fd)).toBe(-EBADF);
  });

  it('refuses malformed arguments with a throw', () => {
    expect(() => eventfdCreate(-1)).toThrow(RangeError);
    expect(() => eventfdWrite(0, 0)).toThrow(RangeError);
    expect(() => eventfdRead(-1)).toThrow(RangeError);
  });
});
