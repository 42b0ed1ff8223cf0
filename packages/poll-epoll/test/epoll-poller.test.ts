import { spawnSync } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IpcClient, IpcError, IpcServer, Ready, type Poller } from '@pollux/core';
import { NodePoller } from '@pollux/poll-node';
import * as sys from '@pollux/sys';
import { SocketTransport } from '@pollux/transport-socket';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EpollPoller } from '../src/index.js';
import { useSocketPairs } from '../../../test/support/socket-pairs.js';

const pollers: EpollPoller[] = [];

function poller(): EpollPoller {
  const p = new EpollPoller();
  pollers.push(p);
  return p;
}

/** Blocks the main thread, so the binding's watcher thread fetches an event that then waits. */
function blockMainThread(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Lets an event of an earlier test that is still in flight be delivered (and dropped), so the
 * watcher thread is free to fetch the next one at once.
 */
const settle = (): Promise<void> => sleep(10);

function once(p: Poller, fd: number, interest: number): Promise<number> {
  return new Promise((resolve) => {
    p.add(fd, interest, (_fd, ready) => {
      p.remove(fd);
      resolve(ready);
    });
  });
}

function codeOf(fn: () => void): string | undefined {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(IpcError);
    return (error as IpcError).code;
  }
  return undefined;
}

// The binding opens its process-wide epoll fd when first loaded, which importing did already,
// so it is part of the baseline. Pollers close (below) before the pairs' fds do: hooks unwind.
const { pair, closeFd } = useSocketPairs();

afterEach(() => {
  for (const p of pollers.splice(0)) {
    p.close();
    expect(p.size).toBe(0);
  }
});

describe('EpollPoller', () => {
  it('reports readable, writable and hang-up', async () => {
    const p = poller();
    const [a, b] = pair();
    expect((await once(p, a, Ready.Writable)) & Ready.Writable).toBeTruthy();
    sys.writev(b, [Buffer.from('x')], 1);
    expect(await once(p, a, Ready.Readable)).toBe(Ready.Readable);
    sys.shutdown(b, 'write');
    // Half-close (EPOLLRDHUP) is reported as hang-up together with Readable.
    expect(await once(p, a, Ready.Readable)).toBe(Ready.Readable | Ready.HangUp);
    expect(p.size).toBe(0);
  });

  it('reports an error with Readable, so the engine reads it', async () => {
    const p = poller();
    const [a, b] = pair();
    // Closing a unix socket with unread data resets its peer (ECONNRESET: EPOLLERR | EPOLLHUP).
    sys.writev(b, [Buffer.from('unread')], 1);
    closeFd(a);
    const ready = await once(p, b, Ready.Readable);
    expect(ready & (Ready.Error | Ready.Readable | Ready.HangUp)).toBe(Ready.Error | Ready.Readable | Ready.HangUp);
    expect(sys.read(b, Buffer.alloc(8), 0, 8)).toBeLessThan(0);
  });

  it('switches interest with modify, and an empty interest pauses dispatch', async () => {
    const p = poller();
    const [a, b] = pair();
    const seen: number[] = [];
    p.add(a, 0, (_fd, ready) => {
      seen.push(ready);
      if (ready & Ready.Writable) p.modify(a, Ready.Readable);
    });
    sys.writev(b, [Buffer.from('x')], 1);
    await sleep(30);
    expect(seen).toEqual([]);
    p.modify(a, Ready.Writable);
    await sleep(30);
    // Level-triggered: Readable keeps firing while the byte stays unread.
    expect(seen[0]).toBe(Ready.Writable);
    expect(seen.length).toBeGreaterThan(2);
    expect(seen.slice(1).every((ready) => ready === Ready.Readable)).toBe(true);
    p.modify(a, 0);
    const count = seen.length;
    await sleep(30);
    expect(seen.length).toBe(count);
    expect(codeOf(() => p.modify(b, Ready.Readable))).toBe('ENOENT');
  });

  it('does not spin on a half-closed peer while interest is empty', async () => {
    const p = poller();
    const [a, b] = pair();
    let calls = 0;
    p.add(a, Ready.Readable, () => {
      calls++;
      p.modify(a, 0); // e.g. the engine pausing a connection
    });
    sys.shutdown(b, 'write'); // EPOLLRDHUP: asked for only while reading
    await sleep(50);
    expect(calls).toBe(1);
  });

  it('never dispatches an fd removed by the dispatch of another fd that was ready at the same time', async () => {
    const p = poller();
    const [a, b] = pair();
    const [c, d] = pair();
    sys.writev(b, [Buffer.from('x')], 1);
    sys.writev(d, [Buffer.from('y')], 1);
    const calls: number[] = [];
    const dispatch = (fd: number): void => {
      calls.push(fd);
      p.remove(a);
      p.remove(c);
    };
    p.add(a, Ready.Readable, dispatch);
    p.add(c, Ready.Readable, dispatch);
    await sleep(50);
    expect(calls.length).toBe(1);
  });

  it('never dispatches after remove, even an event the watcher thread had already fetched', async () => {
    const p = poller();
    const [a, b] = pair();
    const [c, d] = pair();
    await settle();
    const calls: number[] = [];
    sys.writev(b, [Buffer.from('x')], 1);
    p.add(a, Ready.Readable, (fd) => calls.push(fd));
    p.add(c, Ready.Readable, (fd) => calls.push(fd));
    blockMainThread(50); // the thread fetches a's event and waits for the main thread
    p.remove(a);
    await sleep(50);
    expect(calls).toEqual([]);
    sys.writev(d, [Buffer.from('y')], 1);
    await sleep(30);
    expect(calls[0]).toBe(c);
  });

  it('the binding alone would deliver a stale event to a reused fd number (why the guard exists)', async () => {
    const { Epoll } = createRequire(import.meta.url)('epoll') as {
      Epoll: new (
        cb: (err: Error | null, fd: number, events: number) => void,
      ) => {
        add(fd: number, events: number): void;
        remove(fd: number): void;
        close(): void;
      };
    };
    await settle();
    const events: number[] = [];
    const epoll = new Epoll((_err, fd) => events.push(fd));
    const [a, b] = pair();
    sys.writev(b, [Buffer.from('x')], 1);
    epoll.add(a, 1);
    blockMainThread(50);
    epoll.remove(a);
    closeFd(a);
    const [c] = pair();
    expect(c).toBe(a);
    epoll.add(c, 1); // c has nothing to read
    await sleep(30);
    epoll.remove(c);
    epoll.close();
    expect(events).toEqual([c]);
  });

  it('drops a stale event when the fd number is reused by a later add', async () => {
    const p = poller();
    const [a, b] = pair();
    await settle();
    const old: number[] = [];
    const fresh: number[] = [];
    sys.writev(b, [Buffer.from('x')], 1);
    p.add(a, Ready.Readable, (_fd, ready) => old.push(ready));
    blockMainThread(50); // a's event is in flight
    p.remove(a);
    closeFd(a);
    closeFd(b);
    const [c, d] = pair();
    expect(c).toBe(a);
    p.add(c, Ready.Readable, (_fd, ready) => fresh.push(ready));
    await sleep(50);
    expect(old).toEqual([]);
    expect(fresh).toEqual([]); // the in-flight event was the old socket's, not c's
    sys.writev(d, [Buffer.from('y')], 1);
    await sleep(30);
    expect(fresh[0]).toBe(Ready.Readable);
  });

  it('also drops a stale event across pollers and across a closed and remade binding object', async () => {
    await settle();
    const p = poller();
    const q = poller();
    const [a, b] = pair();
    const fresh: number[] = [];
    sys.writev(b, [Buffer.from('x')], 1);
    p.add(a, Ready.Readable, () => fresh.push(-1));
    blockMainThread(50);
    p.remove(a); // p's last fd: its binding object is closed
    closeFd(a);
    const [c] = pair();
    expect(c).toBe(a);
    q.add(c, Ready.Readable, (_fd, ready) => fresh.push(ready));
    await sleep(50);
    expect(fresh).toEqual([]);
  });

  it('refuses a second add and reports the errno of epoll_ctl', () => {
    const p = poller();
    const q = poller();
    const [a] = pair();
    p.add(a, Ready.Readable, () => {});
    expect(codeOf(() => p.add(a, Ready.Readable, () => {}))).toBe('EEXIST');
    expect(codeOf(() => q.add(a, Ready.Readable, () => {}))).toBe('EEXIST');
    expect(codeOf(() => p.add(1_000_000, Ready.Readable, () => {}))).toBe('EBADF');
    const file = openSync(join(tmpdir(), `poll-epoll-${process.pid}`), 'w');
    try {
      expect(codeOf(() => p.add(file, Ready.Readable, () => {}))).toBe('EPERM');
    } finally {
      closeSync(file);
    }
    expect(p.size).toBe(1);
    p.remove(a);
    p.remove(a); // unknown: nothing happens
  });

  it('runs jobs in order, after the current dispatch, later ones in the next batch', async () => {
    const p = poller();
    const [a, b] = pair();
    const order: string[] = [];
    await new Promise<void>((resolve) => {
      p.add(a, Ready.Writable, () => {
        p.remove(a);
        p.job(() => order.push('job 1'));
        p.job(() => {
          order.push('job 2');
          p.job(() => {
            order.push('job 4');
            resolve();
          });
        });
        p.job(() => order.push('job 3'));
        order.push('dispatch');
      });
    });
    expect(order).toEqual(['dispatch', 'job 1', 'job 2', 'job 3', 'job 4']);
    void b;
  });

  it('close() removes everything, is idempotent, and leaves the poller usable', async () => {
    const p = poller();
    const [a, b] = pair();
    const [c] = pair();
    const calls: number[] = [];
    sys.writev(b, [Buffer.from('x')], 1);
    p.add(a, Ready.Readable, (fd) => calls.push(fd));
    p.add(c, 0, (fd) => calls.push(fd));
    p.close();
    p.close();
    expect(p.size).toBe(0);
    await sleep(30);
    expect(calls).toEqual([]);
    expect(await once(p, a, Ready.Readable)).toBe(Ready.Readable);
  });

  it('lets the process exit once its last fd is removed', () => {
    const fixture = join(import.meta.dirname, 'fixtures/exit-after-remove.ts');
    const child = spawnSync(process.execPath, ['--import', 'tsx', fixture], {
      cwd: join(import.meta.dirname, '../../..'),
      timeout: 15_000,
      encoding: 'utf8',
    });
    expect(child.error).toBeUndefined();
    expect(child.stderr).toBe('');
    expect(child.stdout).toBe('removed\n');
    expect(child.status).toBe(0);
  });
});

describe('EpollPoller under the pollux engine', () => {
  const COUNT = 10_000;
  let address: string;
  let server: IpcServer | undefined;
  let client: IpcClient | undefined;

  beforeEach(() => {
    address = `@pollux-poll-epoll-${process.pid}-${Math.random().toString(36).slice(2)}`;
  });

  afterEach(async () => {
    await client?.close();
    await server?.close();
    client = undefined;
    server = undefined;
  });

  async function pipelinedEcho(serverPoller: Poller, clientPoller: Poller): Promise<void> {
    server = new IpcServer({ poller: serverPoller, transport: new SocketTransport() });
    server.addService({ id: 1, name: 'echo', commands: { 0: (payload: Buffer) => payload } });
    await server.listen(address);
    client = await IpcClient.connect(address, {
      service: 'echo',
      poller: clientPoller,
      transport: new SocketTransport(),
    });
    const requests = Array.from({ length: COUNT }, (_, i) => {
      const payload = Buffer.alloc(64, i & 0xff);
      payload.writeUInt32LE(i);
      return client!.request(0, payload);
    });
    const responses = await Promise.all(requests);
    responses.forEach((response, i) => {
      expect(response.length).toBe(64);
      expect(response.readUInt32LE(0)).toBe(i);
      expect(response[63]).toBe(i & 0xff);
    });
    expect(server.stats().services[0]!.responses).toBe(COUNT);
  }

  it('serves 10,000 pipelined echo requests with server and client on one EpollPoller', async () => {
    const p = poller();
    await pipelinedEcho(p, p);
  });

  it('serves 10,000 pipelined echo requests from a client on a NodePoller', async () => {
    await pipelinedEcho(poller(), new NodePoller());
  });
});
