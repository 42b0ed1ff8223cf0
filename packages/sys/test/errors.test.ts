import { describe, expect, it } from 'vitest';
import { SysError, close, errnoMessage, errnoName, read, socketpair } from '../src/index.js';
import { checkFdLeaks } from './fd-leak.js';

checkFdLeaks();

describe('errnoName / errnoMessage', () => {
  it('names errno values given either sign', () => {
    expect(errnoName(11)).toBe('EAGAIN');
    expect(errnoName(-11)).toBe('EAGAIN');
    expect(errnoName(98)).toBe('EADDRINUSE');
    expect(errnoName(32)).toBe('EPIPE');
  });

  it('falls back to glibc for errnos libuv does not map, EUNKNOWN for non-errnos', () => {
    expect(errnoName(126)).toBe('ENOKEY');
    expect(errnoName(0)).toBe('EUNKNOWN');
    expect(errnoName(99999)).toBe('EUNKNOWN');
  });

  it('gives strerror text', () => {
    expect(errnoMessage(-2)).toBe('No such file or directory');
    expect(errnoMessage(11)).toBe('Resource temporarily unavailable');
  });

  it('rejects non-integers', () => {
    expect(() => errnoName(1.5)).toThrow(RangeError);
    expect(() => errnoName('x' as unknown as number)).toThrow(TypeError);
  });
});

describe('SysError', () => {
  it('is what a failing setup call throws, with code, errno and syscall', () => {
    const [a, b] = socketpair();
    close(a);
    close(b);
    let caught: unknown;
    try {
      close(a);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(SysError);
    expect(caught).toBeInstanceOf(Error);
    expect(caught).toMatchObject({ name: 'SysError', code: 'EBADF', errno: 9, syscall: 'close' });
    expect((caught as Error).message).toBe('EBADF: Bad file descriptor, close');
  });

  it('can be built from a -errno returned by a hot-path call', () => {
    const error = new SysError('connect', -111);
    expect(error.code).toBe('ECONNREFUSED');
    expect(error.errno).toBe(111);
    expect(error).toBeInstanceOf(SysError);
  });

  it('matches by brand across copies, but not for plain errors', () => {
    const foreign = Object.assign(new Error('x'), { [Symbol.for('pollux.SysError')]: true });
    expect(foreign instanceof SysError).toBe(true);
    expect(new Error('x') instanceof SysError).toBe(false);
    class Sub extends SysError {}
    expect(new Sub('read', 5) instanceof Sub).toBe(true);
    expect(new SysError('read', 5) instanceof Sub).toBe(false);
  });

  it('leaves argument errors as TypeError / RangeError', () => {
    const buffer = new Uint8Array(4);
    expect(() => read(-1, buffer, 0, 4)).toThrow(RangeError);
    expect(() => read(Number.NaN, buffer, 0, 4)).toThrow(RangeError);
    expect(() => read('0' as unknown as number, buffer, 0, 4)).toThrow(TypeError);
  });
});
