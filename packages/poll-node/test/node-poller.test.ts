import { Ready } from '@pollux/core';
import * as sys from '@pollux/sys';
import { afterEach, describe, expect, it } from 'vitest';
import { NodePoller } from '../src/index.js';

const fds: number[] = [];

function pair(): [number, number] {
  const [a, b] = sys.socketpair();
  fds.push(a, b);
  return [a, b];
}

afterEach(() => {
  for (const fd of fds.splice(0)) sys.close(fd);
});

function once(poller: NodePoller, fd: number, interest: number): Promise<number> {
  return new Promise((resolve) => {
    poller.add(fd, interest, (_fd, ready) => {
      poller.remove(fd);
      resolve(ready);
    });
  });
}

describe('NodePoller', () => {
  it('reports readable, writable and hang-up', async () => {
    const poller = new NodePoller();
    const [a, b] = pair();
    expect((await once(poller, a, Ready.Writable)) & Ready.Writable).toBeTruthy();
    sys.writev(b, [Buffer.from('x')], 1);
    expect((await once(poller, a, Ready.Readable)) & Ready.Readable).toBeTruthy();
    sys.shutdown(b, 'write');
    expect((await once(poller, a, Ready.Readable)) & (Ready.HangUp | Ready.Readable)).toBeTruthy();
    expect(poller.size).toBe(0);
  });

  it('switches interest with modify, and an empty interest pauses dispatch', async () => {
    const poller = new NodePoller();
    const [a, b] = pair();
    const seen: number[] = [];
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    poller.add(a, 0, (_fd, ready) => {
      seen.push(ready & (Ready.Readable | Ready.Writable));
      if (ready & Ready.Writable) poller.modify(a, Ready.Readable);
      else {
        poller.remove(a);
        done();
      }
    });
    sys.writev(b, [Buffer.from('x')], 1);
    poller.modify(a, Ready.Writable);
    await finished;
    expect(seen[0]! & Ready.Writable).toBeTruthy();
    expect(seen.at(-1)).toBe(Ready.Readable);
  });

  it('never dispatches an fd after remove, even one removed by another fd\'s callback in the same turn', async () => {
    const poller = new NodePoller();
    const [a, b] = pair();
    const [c, d] = pair();
    sys.writev(b, [Buffer.from('x')], 1);
    sys.writev(d, [Buffer.from('y')], 1);
    const calls: number[] = [];
    await new Promise<void>((resolve) => {
      const dispatch = (fd: number): void => {
        calls.push(fd);
        poller.remove(a);
        poller.remove(c);
        poller.job(resolve);
      };
      poller.add(a, Ready.Readable, dispatch);
      poller.add(c, Ready.Readable, dispatch);
    });
    expect(calls.length).toBe(1);
  });

  it('keeps dispatching after an error until the data queued ahead of it is read', async () => {
    const poller = new NodePoller();
    const [a, b] = pair();
    sys.writev(b, [Buffer.from('queued before the reset')], 1);
    sys.writev(a, [Buffer.from('never read by b')], 1);
    sys.close(b); // b dies with unread data: a gets a pending ECONNRESET behind its own data
    fds.splice(fds.indexOf(b), 1);
    const reads: (string | number)[] = [];
    await new Promise<void>((resolve) => {
      poller.add(a, Ready.Readable, (_fd, ready) => {
        expect(ready & Ready.Readable).toBeTruthy();
        const buffer = Buffer.alloc(8);
        const n = sys.read(a, buffer, 0, 8);
        reads.push(n > 0 ? buffer.toString('utf8', 0, n) : n);
        if (n <= 0) {
          poller.remove(a);
          resolve();
        }
      });
    });
    expect(reads.slice(0, 3)).toEqual(['queued b', 'efore th', 'e reset']);
    expect([0, -104]).toContain(reads.at(-1));
  });

  it('runs jobs in order, after the current callback', async () => {
    const poller = new NodePoller();
    const order: string[] = [];
    await new Promise<void>((resolve) => {
      poller.job(() => order.push('first'));
      poller.job(() => {
        order.push('second');
        poller.job(() => {
          order.push('nested');
          resolve();
        });
      });
      order.push('sync');
    });
    expect(order).toEqual(['sync', 'first', 'second', 'nested']);
  });

  it('rejects a second add for one fd with EEXIST and modify of an unknown fd with ENOENT', () => {
    const poller = new NodePoller();
    const [a] = pair();
    poller.add(a, Ready.Readable, () => undefined);
    expect(() => poller.add(a, Ready.Readable, () => undefined)).toThrowError(expect.objectContaining({ code: 'EEXIST' }));
    poller.remove(a);
    poller.remove(a);
    expect(() => poller.modify(a, Ready.Readable)).toThrowError(expect.objectContaining({ code: 'ENOENT' }));
  });
});
