import { closeSync, openSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { close, duplicateFd, read, recvmsg, sendmsg, socketpair, writev } from '../src/index.js';
import { O_CLOEXEC, checkFdLeaks, fdFlags, openFdCount } from './fd-leak.js';

checkFdLeaks();

const EAGAIN = 11;
const EBADF = 9;
const EPIPE = 32;
const EINVAL = 22;

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (data: Uint8Array): string => new TextDecoder().decode(data);

function withPair(fn: (a: number, b: number) => void): void {
  const [a, b] = socketpair();
  try {
    fn(a, b);
  } finally {
    close(a);
    close(b);
  }
}

describe('read / writev', () => {
  it('gathers chunks (empty ones included) into one write and reads them back in place', () => {
    withPair((a, b) => {
      const chunks = [bytes('hello'), new Uint8Array(0), bytes(', '), bytes('world')];
      expect(writev(a, chunks, chunks.length)).toBe(12);
      const buffer = new Uint8Array(32);
      expect(read(b, buffer, 4, 28)).toBe(12);
      expect(text(buffer.subarray(4, 16))).toBe('hello, world');
      expect(buffer.subarray(0, 4)).toEqual(new Uint8Array(4));
    });
  });

  it('writes only the first `count` chunks', () => {
    withPair((a, b) => {
      expect(writev(a, [bytes('ab'), bytes('cd')], 1)).toBe(2);
      expect(writev(a, [bytes('ab')], 0)).toBe(0);
      const buffer = new Uint8Array(8);
      expect(read(b, buffer, 0, 8)).toBe(2);
    });
  });

  it('respects the byteOffset of subarrays and Buffers', () => {
    withPair((a, b) => {
      const backing = bytes('xxPAYLOADxx');
      expect(writev(a, [backing.subarray(2, 9)], 1)).toBe(7);
      const target = Buffer.alloc(16);
      const window = target.subarray(5);
      expect(read(b, window, 1, 10)).toBe(7);
      expect(target.toString('latin1', 6, 13)).toBe('PAYLOAD');
    });
  });

  it('reads partially and continues where it stopped', () => {
    withPair((a, b) => {
      expect(writev(a, [bytes('abcdefgh')], 1)).toBe(8);
      const buffer = new Uint8Array(8);
      expect(read(b, buffer, 0, 3)).toBe(3);
      expect(read(b, buffer, 3, 3)).toBe(3);
      expect(read(b, buffer, 6, 2)).toBe(2);
      expect(text(buffer)).toBe('abcdefgh');
      expect(read(b, buffer, 0, 8)).toBe(-EAGAIN);
    });
  });

  it('returns -EAGAIN on an empty socket and 0 (EOF) after the peer closes', () => {
    const [a, b] = socketpair();
    const buffer = new Uint8Array(4);
    expect(read(b, buffer, 0, 4)).toBe(-EAGAIN);
    expect(writev(a, [bytes('z')], 1)).toBe(1);
    close(a);
    expect(read(b, buffer, 0, 4)).toBe(1);
    expect(read(b, buffer, 0, 4)).toBe(0);
    close(b);
  });

  it('returns -EPIPE, not SIGPIPE, writing to a closed peer', () => {
    const [a, b] = socketpair();
    close(b);
    expect(writev(a, [bytes('lost')], 1)).toBe(-EPIPE);
    close(a);
  });

  it('writes partially when the socket buffer fills, then -EAGAIN', () => {
    withPair((a, b) => {
      const block = new Uint8Array(1 << 16);
      let total = 0;
      let last = 0;
      for (;;) {
        last = writev(a, [block, block], 2);
        if (last < 0) break;
        total += last;
      }
      expect(last).toBe(-EAGAIN);
      expect(total).toBeGreaterThan(0);
      expect(total % block.length).not.toBe(0); // some write stopped mid-chunk
      let drained = 0;
      for (let n = read(b, block, 0, block.length); n > 0; n = read(b, block, 0, block.length)) drained += n;
      expect(drained).toBe(total);
    });
  });

  it('sends at most IOV_MAX (1024) chunks per call', () => {
    withPair((a, b) => {
      const chunks = Array.from({ length: 1500 }, () => new Uint8Array(1));
      expect(writev(a, chunks, chunks.length)).toBe(1024);
      expect(read(b, new Uint8Array(2048), 0, 2048)).toBe(1024);
    });
  });

  it('falls back to writev(2) for fds that are not sockets', () => {
    const fd = openSync('/dev/null', 'w');
    expect(writev(fd, [bytes('abc'), bytes('de')], 2)).toBe(5);
    closeSync(fd);
    const zero = openSync('/dev/zero', 'r');
    const buffer = new Uint8Array(4).fill(7);
    expect(read(zero, buffer, 1, 2)).toBe(2);
    expect([...buffer]).toEqual([7, 0, 0, 7]);
    closeSync(zero);
  });

  it('returns -EBADF for a closed fd', () => {
    const [a, b] = socketpair();
    close(a);
    close(b);
    expect(read(a, new Uint8Array(1), 0, 1)).toBe(-EBADF);
    expect(writev(a, [new Uint8Array(1)], 1)).toBe(-EBADF);
  });

  it('throws RangeError / TypeError for bad arguments, without touching the fd', () => {
    withPair((a) => {
      const buffer = new Uint8Array(8);
      expect(() => read(a, buffer, 9, 0)).toThrow(RangeError);
      expect(() => read(a, buffer, 4, 5)).toThrow(RangeError);
      expect(() => read(a, buffer, -1, 1)).toThrow(RangeError);
      expect(() => read(a, buffer, 0.5, 1)).toThrow(RangeError);
      expect(() => read(a, new Uint16Array(4) as unknown as Uint8Array, 0, 1)).toThrow(TypeError);
      expect(() => read(a, [] as unknown as Uint8Array, 0, 0)).toThrow(TypeError);
      expect(() => writev(a, [buffer], 2)).toThrow(RangeError);
      expect(() => writev(a, ['x'] as unknown as Uint8Array[], 1)).toThrow(TypeError);
      expect(() => writev(a, buffer as unknown as Uint8Array[], 1)).toThrow(TypeError);
      expect(read(a, buffer, 8, 0)).toBe(0);
    });
  });
});

describe('sendmsg / recvmsg', () => {
  it('passes one end of another socketpair, and the two processes-worth of ends talk', () => {
    withPair((a, b) => {
      const [inner1, inner2] = socketpair();
      expect(sendmsg(a, [bytes('fd'), bytes('!')], 2, [inner2])).toBe(3);
      close(inner2); // the receiver holds its own copy now
      const buffer = new Uint8Array(8);
      const received: number[] = [];
      expect(recvmsg(b, buffer, 0, 8, received)).toBe(3);
      expect(text(buffer.subarray(0, 3))).toBe('fd!');
      expect(received).toHaveLength(1);
      const passed = received[0] ?? -1;
      expect(passed).toBeGreaterThanOrEqual(0);
      expect(fdFlags(passed) & O_CLOEXEC).toBe(O_CLOEXEC);

      expect(writev(inner1, [bytes('over the passed fd')], 1)).toBe(18);
      const out = new Uint8Array(32);
      expect(read(passed, out, 0, 32)).toBe(18);
      expect(text(out.subarray(0, 18))).toBe('over the passed fd');
      close(passed);
      close(inner1);
    });
  });

  it('passes several fds, appending to what fdsOut already holds', () => {
    withPair((a, b) => {
      const pairs = [socketpair(), socketpair()];
      const toSend = pairs.map(([, far]) => far);
      expect(sendmsg(a, [bytes('x')], 1, toSend)).toBe(1);
      for (const fd of toSend) close(fd);
      const received = [-42];
      expect(recvmsg(b, new Uint8Array(4), 1, 3, received)).toBe(1);
      expect(received).toHaveLength(3);
      expect(received[0]).toBe(-42);
      for (const fd of received.slice(1)) close(fd);
      for (const [near] of pairs) close(near);
    });
  });

  it('works as plain writev/read without fds', () => {
    withPair((a, b) => {
      expect(sendmsg(a, [bytes('plain')], 1, [])).toBe(5);
      const received: number[] = [];
      const buffer = new Uint8Array(8);
      expect(recvmsg(b, buffer, 0, 8, received)).toBe(5);
      expect(received).toEqual([]);
      expect(recvmsg(b, buffer, 0, 8, received)).toBe(-EAGAIN);
    });
  });

  it('refuses to pass fds with zero data bytes or a closed fd', () => {
    withPair((a, b) => {
      expect(sendmsg(a, [new Uint8Array(0)], 1, [b])).toBe(-EINVAL);
      const [x, y] = socketpair();
      close(x);
      close(y);
      expect(sendmsg(a, [bytes('x')], 1, [x])).toBe(-EBADF);
      expect(() => sendmsg(a, [bytes('x')], 1, new Array<number>(254).fill(b))).toThrow(RangeError);
      expect(() => recvmsg(b, new Uint8Array(4), 0, 4, {} as number[])).toThrow(TypeError);
    });
  });

  it('closes the fds an fdsOut that cannot grow would lose, and says so', () => {
    withPair((a, b) => {
      const unfit: [string, number[]][] = [
        ['frozen', Object.freeze([]) as unknown as number[]],
        ['sealed', Object.seal([7])],
        ['non-extensible', Object.preventExtensions([])],
        ['read-only length', Object.defineProperty([], 'length', { writable: false })],
      ];
      for (const [kind, fdsOut] of unfit) {
        const before = openFdCount();
        const [near, far] = socketpair();
        expect(sendmsg(a, [bytes(kind)], 1, [far, near])).toBe(kind.length);
        close(far);
        close(near);
        expect(() => recvmsg(b, new Uint8Array(32), 0, 32, fdsOut), kind).toThrow(
          /fdsOut must be an extensible array.*2 fds received/,
        );
        expect(openFdCount(), `fds leaked by a ${kind} fdsOut`).toBe(before);
      }
      expect(recvmsg(b, new Uint8Array(1), 0, 1, [])).toBe(-EAGAIN);
    });
  });

  it('delivers fds as own elements, whatever setter Array.prototype has', () => {
    withPair((a, b) => {
      const [near, far] = socketpair();
      expect(sendmsg(a, [bytes('x')], 1, [far])).toBe(1);
      close(far);
      const swallowed: unknown[] = [];
      Object.defineProperty(Array.prototype, '0', {
        set: (value: unknown) => swallowed.push(value),
        configurable: true,
      });
      const received: number[] = [];
      try {
        expect(recvmsg(b, new Uint8Array(4), 0, 4, received)).toBe(1);
      } finally {
        delete (Array.prototype as unknown as Record<string, unknown>)['0'];
      }
      expect(swallowed).toEqual([]);
      expect(Object.getOwnPropertyDescriptor(received, 0)).toMatchObject({ writable: true, enumerable: true });
      for (const fd of [...received, near]) close(fd);
    });
  });

  it('refuses a 0-byte window, which would read as end of stream yet take the fds', () => {
    withPair((a, b) => {
      const [near, far] = socketpair();
      expect(sendmsg(a, [bytes('x')], 1, [far])).toBe(1);
      close(far);
      const received: number[] = [];
      expect(() => recvmsg(b, new Uint8Array(4), 2, 0, received)).toThrow(RangeError);
      expect(received).toEqual([]);
      // Nothing was taken off the socket: the byte and its fd are still there.
      expect(recvmsg(b, new Uint8Array(4), 0, 4, received)).toBe(1);
      expect(received).toHaveLength(1);
      for (const fd of [...received, near]) close(fd);
    });
  });

  it('returns 0 at EOF and -EPIPE to a closed peer', () => {
    const [a, b] = socketpair();
    close(a);
    expect(recvmsg(b, new Uint8Array(4), 0, 4, [])).toBe(0);
    expect(sendmsg(b, [bytes('x')], 1, [])).toBe(-EPIPE);
    close(b);
  });
});

describe('duplicateFd', () => {
  it('makes a close-on-exec copy that outlives the original, and -EBADF for an fd not open', () => {
    const [a, b] = socketpair();
    const copy = duplicateFd(a!);
    expect(copy).toBeGreaterThanOrEqual(0);
    expect(fdFlags(copy) & O_CLOEXEC).toBe(O_CLOEXEC);
    close(a!);
    expect(writev(copy, [new Uint8Array([42])], 1)).toBe(1);
    const got = new Uint8Array(1);
    expect(read(b!, got, 0, 1)).toBe(1);
    expect(got[0]).toBe(42);
    close(copy);
    expect(duplicateFd(copy)).toBe(-9);
    close(b!);
  });
});
