// The socket transport's fd passing at the channel level: SCM_RIGHTS with the bytes, on real
// socketpairs, with every fd accounted for.
import { spawn } from 'node:child_process';
import { fstatSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import * as sys from '@pollux/sys';
import { SocketTransport, type Channel } from 'pollux';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openFdCount } from './support/fds.js';

const EAGAIN = -11;
const EINVAL = -22;
const EBADF = -9;

const transport = new SocketTransport();
let fdsBefore = 0;
const opened: { close(): void }[] = [];

beforeEach(() => {
  fdsBefore = openFdCount();
});

afterEach(() => {
  for (const item of opened.splice(0)) item.close();
  expect(openFdCount(), 'fds leaked by this test').toBe(fdsBefore);
});

/** Two connected channels, closed after the test. */
function channelPair(): [Channel, Channel] {
  const [a, b] = sys.socketpair();
  const pair: [Channel, Channel] = [transport.adopt(a), transport.adopt(b)];
  opened.push(...pair);
  return pair;
}

/** A socketpair whose ends serve as fds to pass, each with its own inode; closed after the test. */
function passable(): [number, number] {
  const pair = sys.socketpair();
  opened.push({ close: () => release(pair) });
  return pair;
}

const inode = (fd: number): number => fstatSync(fd).ino;

/** Closes received fds. */
function release(fds: readonly number[]): void {
  for (const fd of fds) sys.close(fd);
}

/** Whether `fd` reads end of stream: every reference to its peer is gone. */
function atEndOfStream(fd: number): boolean {
  return sys.read(fd, Buffer.alloc(1), 0, 1) === 0;
}

describe('SocketChannel fd passing', () => {
  it('says it carries up to 253 fds per write (SCM_MAX_FD)', () => {
    const [left] = channelPair();
    expect(left.maxFdsPerWrite).toBe(253);
  });

  it('delivers fds with the read that returns the byte that carried them, as new fds of the same files', () => {
    const [left, right] = channelPair();
    const [p, q] = passable();
    expect(left.writev([Buffer.from('ab'), Buffer.from('cd')], 2, [p, q, p])).toBe(4);
    const fds: number[] = [];
    const buffer = Buffer.alloc(16);
    expect(right.read(buffer, 0, 16, fds)).toBe(4);
    expect(buffer.toString('latin1', 0, 4)).toBe('abcd');
    expect(fds).toHaveLength(3);
    expect(new Set([...fds, p, q]).size).toBe(5);
    expect(fds.map(inode)).toEqual([inode(p), inode(q), inode(p)]);
    release(fds);
  });

  it('never merges a read across the end of a write that carried fds, and keeps each write’s fds apart', () => {
    const [left, right] = channelPair();
    const [p, q] = passable();
    left.writev([Buffer.from('aaaa')], 1);
    left.writev([Buffer.from('bbbb')], 1, [p]);
    left.writev([Buffer.from('cc'), Buffer.from('cc')], 2, [q, p]);
    left.writev([Buffer.from('dddd')], 1);
    const buffer = Buffer.alloc(64);
    const reads: { text: string; inodes: number[] }[] = [];
    for (;;) {
      const fds: number[] = [];
      const n = right.read(buffer, 0, 64, fds);
      if (n === EAGAIN) break;
      reads.push({ text: buffer.toString('latin1', 0, n), inodes: fds.map(inode) });
      release(fds);
    }
    expect(reads).toEqual([
      { text: 'aaaabbbb', inodes: [inode(p)] },
      { text: 'cccc', inodes: [inode(q), inode(p)] },
      { text: 'dddd', inodes: [] },
    ]);
  });

  it('hands the fds to a read that takes only the first byte of their write, not to the rest', () => {
    const [left, right] = channelPair();
    const [p] = passable();
    left.writev([Buffer.from('xyz')], 1, [p]);
    const buffer = Buffer.alloc(8);
    const first: number[] = [];
    expect(right.read(buffer, 0, 1, first)).toBe(1);
    expect(first.map(inode)).toEqual([inode(p)]);
    const rest: number[] = [];
    expect(right.read(buffer, 1, 7, rest)).toBe(2);
    expect(rest).toEqual([]);
    expect(buffer.toString('latin1', 0, 3)).toBe('xyz');
    release(first);
  });

  it('releases fds a peer sends to a reader that takes none: the kernel drops them with the plain read', () => {
    const [left, right] = channelPair();
    const [p, q] = sys.socketpair();
    // 200 references to q, then ours is closed: only the bytes in flight still hold q.
    expect(
      left.writev(
        [Buffer.from('hello')],
        1,
        Array.from({ length: 200 }, () => q),
      ),
    ).toBe(5);
    sys.close(q);
    try {
      expect(atEndOfStream(p)).toBe(false);
      const buffer = Buffer.alloc(8);
      expect(right.read(buffer, 0, 8)).toBe(5);
      // No copy of q is left anywhere: neither in this process's fd table nor in the socket.
      expect(atEndOfStream(p)).toBe(true);
    } finally {
      sys.close(p);
    }
  });

  it('refuses fds without a byte to carry them, and an fd that is not open, sending nothing', () => {
    const [left, right] = channelPair();
    const [p] = passable();
    expect(left.writev([Buffer.alloc(0)], 1, [p])).toBe(EINVAL);
    const closedFd = sys.socketpair();
    release(closedFd);
    expect(left.writev([Buffer.from('x')], 1, [closedFd[0]])).toBe(EBADF);
    expect(right.read(Buffer.alloc(4), 0, 4, [])).toBe(EAGAIN);
  });

  it('sends 253 fds in one write and refuses a 254th before anything is written', () => {
    const [left, right] = channelPair();
    const [p] = passable();
    expect(() =>
      left.writev(
        [Buffer.from('x')],
        1,
        Array.from({ length: 254 }, () => p),
      ),
    ).toThrow(RangeError);
    expect(
      left.writev(
        [Buffer.from('y')],
        1,
        Array.from({ length: 253 }, () => p),
      ),
    ).toBe(1);
    const fds: number[] = [];
    const buffer = Buffer.alloc(4);
    expect(right.read(buffer, 0, 4, fds)).toBe(1);
    expect(buffer.toString('latin1', 0, 1)).toBe('y');
    expect(fds).toHaveLength(253);
    release(fds);
  });

  it('returns EMSGSIZE and closes what arrived when the receiver hits its fd limit (MSG_CTRUNC)', async () => {
    // RLIMIT_NOFILE caps fd numbers for the whole process: lowered in a child of its own.
    const fixture = fileURLToPath(new URL('./fixtures/fd-limit-reader.ts', import.meta.url));
    const child = spawn('sh', ['-c', `ulimit -n 256 && exec "${process.execPath}" --import tsx "${fixture}"`], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    expect(JSON.parse(output)).toEqual({
      limit: 256,
      status: -90, // -EMSGSIZE
      fdsHandedOut: 0,
      fdsBefore: expect.any(Number),
      fdsAfter: expect.any(Number),
      bytesConsumed: true,
    });
    const { fdsBefore: before, fdsAfter: after } = JSON.parse(output) as { fdsBefore: number; fdsAfter: number };
    expect(after).toBe(before);
  });
});

/** One step of a random conversation: a write of some bytes with some fds, or a read of some size. */
type Step =
  | { readonly kind: 'write'; readonly chunks: readonly number[]; readonly fds: readonly number[] }
  | { readonly kind: 'read'; readonly size: number };

const POOL = 6;

const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      chunks: fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 3 }),
      fds: fc.oneof(
        { weight: 3, arbitrary: fc.constant([]) },
        { weight: 6, arbitrary: fc.array(fc.nat(POOL - 1), { minLength: 1, maxLength: 12 }) },
        { weight: 1, arbitrary: fc.array(fc.nat(POOL - 1), { minLength: 253, maxLength: 253 }) },
      ),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('read' as const), size: fc.integer({ min: 1, max: 700 }) }) },
);

describe('SocketChannel fd passing, property', () => {
  it('delivers every fd sent exactly once, in order, with the byte that carried it, and leaks none', () => {
    fc.assert(
      fc.property(fc.array(stepArbitrary, { maxLength: 40 }), (steps) => {
        const fdsAtStart = openFdCount();
        const [a, b] = sys.socketpair();
        const left = transport.adopt(a);
        const right = transport.adopt(b);
        const pool = Array.from({ length: POOL / 2 }, () => sys.socketpair()).flat();
        const poolByInode = new Map(pool.map((fd, at) => [inode(fd), at]));
        /** Fds of the read being checked: closed even when a check fails. */
        const received: number[] = [];
        try {
          /** Bytes written so far, and for each write that carried fds: where its first byte is, and which. */
          const sent: number[] = [];
          const carried: { at: number; fds: readonly number[] }[] = [];
          let readAt = 0;
          const got: number[] = [];
          const buffer = Buffer.alloc(1024);

          const readOnce = (size: number): number => {
            const fds = received;
            const n = right.read(buffer, 0, size, fds);
            if (n === EAGAIN) {
              expect(fds).toEqual([]);
              return 0;
            }
            expect(n).toBeGreaterThan(0);
            for (let i = 0; i < n; i++) got.push(buffer[i]!);
            // The writes whose first byte this read returned: at most one carried fds, and the
            // read hands over exactly its fds.
            const due = carried.filter((entry) => entry.at >= readAt && entry.at < readAt + n);
            expect(due.length).toBeLessThanOrEqual(1);
            expect(fds.map((fd) => poolByInode.get(inode(fd)))).toEqual(due[0]?.fds ?? []);
            // A read stops after the bytes that carried fds: nothing of a later write comes with them.
            if (due.length === 1) {
              const next = carried.find((entry) => entry.at > due[0]!.at);
              expect(readAt + n).toBeLessThanOrEqual(next?.at ?? Number.POSITIVE_INFINITY);
            }
            release(fds.splice(0));
            readAt += n;
            return n;
          };

          for (const step of steps) {
            if (step.kind === 'read') {
              readOnce(step.size);
              continue;
            }
            const chunks = step.chunks.map((size) =>
              Buffer.from(Array.from({ length: size }, (_, i) => (sent.length + i * 31) & 0xff)),
            );
            const total = step.chunks.reduce((sum, size) => sum + size, 0);
            const written = left.writev(
              chunks,
              chunks.length,
              step.fds.map((at) => pool[at]!),
            );
            if (total === 0 && step.fds.length > 0) {
              expect(written).toBe(EINVAL);
              continue;
            }
            // The conversation stays far below the socket's buffer: every write goes out whole.
            expect(written).toBe(total);
            if (step.fds.length > 0) carried.push({ at: sent.length, fds: step.fds });
            for (const chunk of chunks) sent.push(...chunk);
          }
          while (readAt < sent.length) expect(readOnce(1024)).toBeGreaterThan(0);
          expect(got).toEqual(sent);
          expect(right.read(buffer, 0, 16, [])).toBe(EAGAIN);
        } finally {
          for (const fd of received) sys.close(fd);
          left.close();
          right.close();
          for (const fd of pool) sys.close(fd);
        }
        expect(openFdCount()).toBe(fdsAtStart);
      }),
      { numRuns: 200 },
    );
  });
});
