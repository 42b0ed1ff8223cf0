import { closeSync, fstatSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  F_SEAL_FUTURE_WRITE,
  F_SEAL_GROW,
  F_SEAL_SEAL,
  F_SEAL_SHRINK,
  addSeals,
  close,
  getSeals,
  memfdCreate,
  mmap,
  seqlockFootprint,
  seqlockRead,
  seqlockWrite,
  socketpair,
  unmap,
} from '../src/index.js';
import { O_CLOEXEC, checkFdLeaks, fdFlags, loopTurns } from './fd-leak.js';

checkFdLeaks();

const EINVAL = 22;
const EPERM = 1;
const sealedForReaders = F_SEAL_FUTURE_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

/** A memfd of `size` bytes, closed after `fn`. */
function withMemfd(size: number, fn: (fd: number) => void, name = 'pollux-test'): void {
  const fd = memfdCreate(name);
  expect(fd).toBeGreaterThanOrEqual(0);
  try {
    ftruncateSync(fd, size);
    fn(fd);
  } finally {
    close(fd);
  }
}

function mapped(fd: number, length: number, writable: boolean): ArrayBuffer {
  const mapping = mmap(fd, length, writable);
  if (typeof mapping === 'number') throw new Error(`mmap failed: ${mapping}`);
  return mapping;
}

/** Whether this process maps a memfd called `name`. */
function mapsMemfd(name: string): boolean {
  return readFileSync('/proc/self/maps', 'utf8').includes(`/memfd:${name} `);
}

describe('memfdCreate', () => {
  it('creates a close-on-exec, sealable, empty memory file', () => {
    withMemfd(0, (fd) => {
      expect(fdFlags(fd) & O_CLOEXEC).toBe(O_CLOEXEC);
      expect(fstatSync(fd).size).toBe(0);
      expect(getSeals(fd)).toBe(0);
    });
  });

  it('returns -EINVAL for a name longer than 249 bytes and throws for one with NUL', () => {
    expect(memfdCreate('x'.repeat(250))).toBe(-EINVAL);
    expect(() => memfdCreate('a\0b')).toThrow(TypeError);
  });
});

describe('seals', () => {
  it('keep the sealing mapping writable while refusing every new way to write', () => {
    withMemfd(4096, (fd) => {
      const writer = mapped(fd, 4096, true);
      expect(addSeals(fd, sealedForReaders)).toBe(0);
      expect(getSeals(fd)).toBe(sealedForReaders);
      new Uint8Array(writer)[7] = 42;
      const reader = mapped(fd, 4096, false);
      expect(new Uint8Array(reader)[7]).toBe(42);
      expect(mmap(fd, 4096, true)).toBe(-EPERM);
      expect(() => writeSync(fd, new Uint8Array([1]))).toThrow(expect.objectContaining({ code: 'EPERM' }));
      expect(() => ftruncateSync(fd, 0)).toThrow(expect.objectContaining({ code: 'EPERM' }));
      expect(() => ftruncateSync(fd, 8192)).toThrow(expect.objectContaining({ code: 'EPERM' }));
      // A read-only fd is no protection: /proc/self/fd reopens it read-write; the seal still holds.
      const reopened = openSync(`/proc/self/fd/${fd}`, 'r+');
      try {
        expect(() => writeSync(reopened, new Uint8Array([1]))).toThrow(expect.objectContaining({ code: 'EPERM' }));
        expect(mmap(reopened, 4096, true)).toBe(-EPERM);
      } finally {
        closeSync(reopened);
      }
      expect(addSeals(fd, 0)).toBe(-EPERM);
      expect(unmap(reader)).toBe(0);
      expect(unmap(writer)).toBe(0);
    });
  });

  it('report -EINVAL for an fd that cannot carry seals', () => {
    const [a, b] = socketpair();
    try {
      expect(getSeals(a)).toBe(-EINVAL);
      expect(addSeals(a, F_SEAL_SEAL)).toBe(-EINVAL);
    } finally {
      close(a);
      close(b);
    }
  });
});

describe('mmap / unmap', () => {
  it('detaches every view, unmaps, and is idempotent', () => {
    withMemfd(
      4096,
      (fd) => {
        const mapping = mapped(fd, 4096, true);
        const view = new Uint8Array(mapping, 100, 10);
        expect(mapsMemfd('pollux-unmap')).toBe(true);
        expect(unmap(mapping)).toBe(0);
        expect(mapping.byteLength).toBe(0);
        expect(view.length).toBe(0);
        expect(view[0]).toBeUndefined();
        expect(mapsMemfd('pollux-unmap')).toBe(false);
        expect(unmap(mapping)).toBe(0);
        expect(() => seqlockRead(mapping, 0, new Uint8Array(8), 1)).toThrow(RangeError);
      },
      'pollux-unmap',
    );
  });

  it('refuses an ArrayBuffer it did not map, and bad lengths', () => {
    expect(() => unmap(new ArrayBuffer(8))).toThrow(TypeError);
    expect(() => unmap(new Uint8Array(8) as unknown as ArrayBuffer)).toThrow(TypeError);
    withMemfd(4096, (fd) => {
      expect(() => mmap(fd, 0, false)).toThrow(RangeError);
      expect(() => mmap(fd, 1.5, false)).toThrow(RangeError);
    });
  });

  it('unmaps a mapping nobody unmapped once it is collected', async () => {
    withMemfd(4096, (fd) => mapped(fd, 4096, false), 'pollux-collected');
    expect(mapsMemfd('pollux-collected')).toBe(true);
    // The finalizer runs on a later turn of the loop after the collection.
    for (let turn = 0; turn < 100 && mapsMemfd('pollux-collected'); turn++) {
      globalThis.gc?.();
      await loopTurns(1);
    }
    expect(mapsMemfd('pollux-collected')).toBe(false);
  });
});

describe('seqlockWrite / seqlockRead', () => {
  it('round-trips records at several offsets and counts the writes', () => {
    withMemfd(4096, (fd) => {
      const writer = mapped(fd, 4096, true);
      const reader = mapped(fd, 4096, false);
      const snapshot = new Uint8Array(13);
      expect(seqlockFootprint(13)).toBe(8 + 2 * 16);
      expect(seqlockRead(reader, 64, snapshot, 1)).toBe(0);
      expect(snapshot).toEqual(new Uint8Array(13));
      expect(seqlockWrite(writer, 64, new Uint8Array(13).fill(1))).toBe(1);
      expect(seqlockWrite(writer, 64, new Uint8Array(13).fill(2))).toBe(2);
      expect(seqlockWrite(writer, 64 + seqlockFootprint(13), new Uint8Array(13).fill(9))).toBe(1);
      expect(seqlockRead(reader, 64, snapshot, 1)).toBe(2);
      expect(snapshot).toEqual(new Uint8Array(13).fill(2));
      unmap(reader);
      unmap(writer);
    });
  });

  it('leaves readers the last complete value when the writer stops halfway through a write', () => {
    withMemfd(4096, (fd) => {
      const writer = mapped(fd, 4096, true);
      seqlockWrite(writer, 0, new Uint8Array(16).fill(1));
      seqlockWrite(writer, 0, new Uint8Array(16).fill(2));
      // What a writer killed in its first copy leaves: the sequence moved on (odd), and the copy
      // it was writing (the one readers were just sent away from) half overwritten.
      const sequence = new DataView(writer, 0, 8);
      sequence.setBigUint64(0, sequence.getBigUint64(0, true) + 1n, true);
      new Uint8Array(writer, 8, 8).fill(0xee);
      const snapshot = new Uint8Array(16);
      expect(seqlockRead(writer, 0, snapshot, 1)).toBe(2);
      expect(snapshot).toEqual(new Uint8Array(16).fill(2));
      unmap(writer);
    });
  });

  it('refuses records that do not fit or are misaligned, and fewer than 1 attempt', () => {
    withMemfd(4096, (fd) => {
      const writer = mapped(fd, 4096, true);
      expect(() => seqlockWrite(writer, 4, new Uint8Array(8))).toThrow(RangeError);
      expect(() => seqlockWrite(writer, 4096 - 16, new Uint8Array(8))).toThrow(RangeError);
      expect(() => seqlockWrite(writer, 0, new Uint8Array(4096))).toThrow(RangeError);
      expect(() => seqlockRead(writer, 0, new Uint8Array(8), 0)).toThrow(RangeError);
      expect(() => seqlockRead(new Uint8Array(64) as unknown as ArrayBuffer, 0, new Uint8Array(8), 1)).toThrow(
        TypeError,
      );
      unmap(writer);
    });
  });
});
