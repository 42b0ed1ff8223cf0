// Fds passed with requests, responses and events: who owns them, and that none leaks on any path.
import * as sys from '@pollux/sys';
import {
  IpcError,
  type Connection,
  type CreateServerOptions,
  type IpcClient,
  type ReceivedFds,
  type ServiceDefinition,
} from 'pollux';
import { afterEach, describe, expect, it } from 'vitest';
import { backendMatrix, serverBackendMatrix, shmBackendMatrix, useBackends } from './support/backends.js';
import { openFdCount } from './support/fds.js';
import { frame, hello } from './support/frames.js';
import { deferred, until, type TestServer } from './support/server.js';

const EAGAIN = -11;

/** A connected socket pair: pass `far`, and see through `near` what was done with it. */
function pair(): { near: number; far: number } {
  const [near, far] = sys.socketpair();
  return { near: near!, far: far! };
}

/** Writes `text` into `fd`, as the receiver of a passed fd would use it. */
function say(fd: number, text: string): void {
  const bytes = Buffer.from(text);
  expect(sys.writev(fd, [bytes], 1)).toBe(bytes.length);
}

/** What arrived on `fd` (non-blocking socketpair end), once something has. */
async function heard(fd: number): Promise<string> {
  const buffer = Buffer.alloc(256);
  let n = EAGAIN;
  await until(() => (n = sys.read(fd, buffer, 0, buffer.length)) !== EAGAIN);
  return buffer.toString('utf8', 0, Math.max(n, 0));
}

/** Whether every copy of the far end of `near`'s pair is closed: `near` then reads end of file. */
function farClosed(near: number): boolean {
  return sys.read(near, Buffer.alloc(1), 0, 1) === 0;
}

async function rejection(promise: Promise<unknown>): Promise<IpcError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(IpcError);
  return error as IpcError;
}

describe.each(backendMatrix)('fds with messages, server on $server, client on $client', (backends) => {
  const { startServerOn, connectTo, spawnFixture } = useBackends(backends);
  let running: TestServer | undefined;
  let client: IpcClient | undefined;

  afterEach(async () => {
    await client?.close();
    client = undefined;
    await running?.stop();
    running = undefined;
  });

  /** Starts a server with the `fds` service (id 1) made of `service`. */
  async function serveFds(
    service: Omit<ServiceDefinition<undefined>, 'id' | 'name'>,
    options: CreateServerOptions = {},
  ): Promise<TestServer> {
    return startServerOn((server) => server.addService({ id: 1, name: 'fds', ...service }), options);
  }

  /** Closes the client and checks the process holds as many fds as at `baseline`, server side included. */
  async function leavesNothing(baseline: number): Promise<void> {
    await client!.close();
    client = undefined;
    await until(() => running!.server.stats().connections === 0);
    expect(openFdCount()).toBe(baseline);
  }

  it('hands a request’s fds to the handler, closes those it did not take, and the one it took works', async () => {
    let taken = -1;
    running = await serveFds(
      {
        commands: {
          1: (_payload, _connection, _command, fds) => {
            expect(fds.length).toBe(3);
            taken = fds.take(1);
            say(taken, 'through the passed fd');
            return Buffer.from('ok');
          },
        },
      },
      { maxFdsPerMessage: 4 },
    );
    const baseline = openFdCount();
    client = await connectTo(running.address, 'fds');
    const ends = [pair(), pair(), pair()];
    const answer = await client.request(1, Buffer.from('x'), { fds: ends.map((end) => end.far) });
    expect(answer.toString()).toBe('ok');
    // pollux sent duplicates: the caller's own fds are still open and still its own.
    for (const end of ends) sys.close(end.far);
    expect(await heard(ends[1]!.near)).toBe('through the passed fd');
    // The two the handler left are closed already; the taken one is the handler's until it closes it.
    expect(farClosed(ends[0]!.near)).toBe(true);
    expect(farClosed(ends[2]!.near)).toBe(true);
    expect(farClosed(ends[1]!.near)).toBe(false);
    sys.close(taken);
    expect(farClosed(ends[1]!.near)).toBe(true);
    for (const end of ends) sys.close(end.near);
    await leavesNothing(baseline);
  });

  it('an asynchronous handler may take fds until its promise settles; after that they are closed', async () => {
    const gate = deferred<void>();
    let late: ReceivedFds | undefined;
    running = await serveFds(
      {
        commands: {
          1: async (_payload, _connection, _command, fds) => {
            await gate.promise;
            late = fds;
            return undefined;
          },
        },
      },
      { maxFdsPerMessage: 1 },
    );
    const baseline = openFdCount();
    client = await connectTo(running.address, 'fds');
    const end = pair();
    const answered = client.request(1, Buffer.alloc(0), { fds: [end.far] });
    sys.close(end.far);
    await until(() => running!.server.stats().services[0]!.requests === 1);
    expect(farClosed(end.near)).toBe(false);
    gate.resolve();
    await answered;
    expect(farClosed(end.near)).toBe(true);
    expect(() => late!.take(0)).toThrowError(expect.objectContaining({ code: 'EBADF' }));
    sys.close(end.near);
    await leavesNothing(baseline);
  });

  it('answers with fds: requestWithFds gets them, a plain request leaves none open', async () => {
    const ends = [pair(), pair()];
    running = await serveFds({
      commands: { 1: (_payload, connection) => connection.withFds(Buffer.from('here'), [ends[0]!.far, ends[1]!.far]) },
    });
    // The test closes the two pairs before it counts again.
    const baseline = openFdCount() - 4;
    client = await connectTo(running.address, 'fds');
    const { payload, fds } = await client.requestWithFds(1);
    expect(payload.toString()).toBe('here');
    expect(fds).toHaveLength(2);
    say(fds[1]!, 'from the client');
    expect(await heard(ends[1]!.near)).toBe('from the client');
    for (const fd of fds) sys.close(fd);

    // The same answer to request(): the fds arrive and are closed at once.
    expect((await client.request(1)).toString()).toBe('here');
    for (const end of ends) sys.close(end.far);
    expect(farClosed(ends[0]!.near)).toBe(true);
    expect(farClosed(ends[1]!.near)).toBe(true);
    for (const end of ends) sys.close(end.near);
    await leavesNothing(baseline);
  });

  it('sends fds with events: a listener takes one, the rest are closed after the listeners ran', async () => {
    running = await serveFds({
      commands: {
        1: (_payload, connection) => {
          const end = pair();
          const other = pair();
          connection.sendEvent(7, Buffer.from('event'), [end.far, other.far]);
          sys.close(end.far);
          sys.close(other.far);
          return Buffer.from(`${end.near},${other.near}`);
        },
      },
    });
    const baseline = openFdCount();
    client = await connectTo(running.address, 'fds');
    const event = deferred<number>();
    client.on('event', (id, payload, fds) => {
      expect([id, payload.toString(), fds.length]).toEqual([7, 'event', 2]);
      event.resolve(fds.take(0));
    });
    const [near, otherNear] = (await client.request(1)).toString().split(',').map(Number);
    const kept = await event.promise;
    say(kept, 'kept');
    expect(await heard(near!)).toBe('kept');
    await until(() => farClosed(otherNear!));
    sys.close(kept);
    expect(farClosed(near!)).toBe(true);
    sys.close(near!);
    sys.close(otherNear!);
    await leavesNothing(baseline);
  });

  it('refuses fds the peer does not take, or that are not open, before anything is written', async () => {
    const handled: number[] = [];
    running = await serveFds(
      {
        commands: {
          1: (_payload, _connection, command) => {
            handled.push(command);
          },
          2: (_payload, connection) => connection.withFds(Buffer.alloc(0), [1_000_000]),
        },
      },
      { maxFdsPerMessage: 2 },
    );
    const baseline = openFdCount();
    client = await connectTo(running.address, 'fds');
    const ends = [pair(), pair(), pair()];
    const tooMany = await rejection(client.request(1, Buffer.alloc(0), { fds: ends.map((end) => end.far) }));
    expect(tooMany.code).toBe('EINVAL');
    expect(tooMany.message).toContain('maxFdsPerMessage');
    const closedFd = pair();
    sys.close(closedFd.far);
    expect((await rejection(client.request(1, Buffer.alloc(0), { fds: [closedFd.far] }))).code).toBe('EBADF');
    expect((await rejection(client.request(1, Buffer.alloc(0), { fds: [-3] }))).code).toBe('EINVAL');
    // The server's answer with an fd that is not open is its handler's failure, and sends nothing.
    expect((await rejection(client.request(2))).code).toBe('EBADF');
    expect(handled).toEqual([]);
    expect(client.stats.requests).toBe(1);
    for (const end of [...ends, closedFd]) {
      if (end !== closedFd) sys.close(end.far);
      sys.close(end.near);
    }
    await leavesNothing(baseline);
  });

  it('a server that takes no fds (the default) makes a request with fds fail with EINVAL, nothing sent', async () => {
    running = await serveFds({ commands: { 1: () => Buffer.from('ran') } });
    client = await connectTo(running.address, 'fds');
    const end = pair();
    const error = await rejection(client.request(1, Buffer.alloc(0), { fds: [end.far] }));
    expect(error.code).toBe('EINVAL');
    expect(error.message).toContain('0 the peer takes');
    expect(running.server.stats().services[0]!.requests).toBe(0);
    sys.close(end.far);
    sys.close(end.near);
  });

  it('pairs each request with its own fds when requests with and without fds leave in one turn', async () => {
    running = await serveFds(
      { commands: { 1: (_payload, _connection, _command, fds) => Buffer.from(String(fds.length)) } },
      { maxFdsPerMessage: 2 },
    );
    const baseline = openFdCount();
    client = await connectTo(running.address, 'fds');
    const [a, b] = [pair(), pair()];
    const answers = await Promise.all([
      client.request(1),
      client.request(1, Buffer.alloc(0), { fds: [a.far, b.far] }),
      client.request(1, Buffer.alloc(3000)),
      client.request(1, Buffer.alloc(0), { fds: [a.far] }),
      client.request(1),
    ]);
    expect(answers.map(String)).toEqual(['0', '2', '0', '1', '0']);
    for (const end of [a, b]) {
      sys.close(end.far);
      sys.close(end.near);
    }
    await leavesNothing(baseline);
  });

  it('closes the fds of a request that never runs or fails, and of a response that comes too late', async () => {
    const gate = deferred<void>();
    const late = pair();
    running = await serveFds(
      {
        commands: {
          1: () => {
            throw new IpcError('EAGAIN', 'busy');
          },
          2: async (_payload, connection) => {
            await gate.promise;
            return connection.withFds(Buffer.alloc(0), [late.far]);
          },
        },
      },
      { maxFdsPerMessage: 1 },
    );
    const baseline = openFdCount();
    client = await connectTo(running.address, 'fds');
    const end = pair();
    expect((await rejection(client.request(1, Buffer.alloc(0), { fds: [end.far] }))).code).toBe('EAGAIN');
    expect((await rejection(client.request(9, Buffer.alloc(0), { fds: [end.far] }))).code).toBe('ENOSYS');
    sys.close(end.far);
    // Neither the thrower nor the missing command kept a copy.
    expect(farClosed(end.near)).toBe(true);
    const abort = new AbortController();
    const cancelled = client.request(2, Buffer.alloc(0), { signal: abort.signal });
    await until(() => running!.server.stats().services[0]!.requests === 3);
    abort.abort();
    expect((await rejection(cancelled)).code).toBe('ECANCELED');
    gate.resolve();
    await until(() => client!.stats.lateResponses === 1);
    sys.close(late.far);
    // The late answer's fd reached the client, which closed it: no copy is left anywhere.
    expect(farClosed(late.near)).toBe(true);
    sys.close(end.near);
    sys.close(late.near);
    await leavesNothing(baseline - 2);
  });

  it('a client killed with requests and their fds in its handlers: every fd is closed once they settle', async () => {
    const gate = deferred<void>();
    let started = 0;
    running = await serveFds(
      {
        commands: {
          1: async () => {
            started++;
            await gate.promise;
            return Buffer.from('too late');
          },
        },
      },
      { maxFdsPerMessage: 2 },
    );
    const baseline = openFdCount();
    const peer = spawnFixture('fd-client', [running.address, 'requests', '20']);
    await peer.next('ready');
    await until(() => started === 20);
    peer.child.kill('SIGKILL');
    await peer.exited;
    await until(() => running!.server.stats().connections === 0);
    // The connection is gone; the 20 requests' 40 fds stay with their handlers until they settle.
    expect(openFdCount()).toBe(baseline + 40);
    gate.resolve();
    await until(() => openFdCount() === baseline);
  });

  it('a client killed while events with fds wait in the server’s queue: the queued fds are closed', async () => {
    let connection: Connection<unknown> | undefined;
    running = await serveFds({
      commands: {},
      created: (opened) => {
        connection = opened;
      },
    });
    const baseline = openFdCount();
    const peer = spawnFixture('fd-client', [running.address, 'idle']);
    await peer.next('ready');
    await until(() => connection !== undefined);
    peer.child.kill('SIGSTOP');
    const end = pair();
    const big = Buffer.alloc(32 * 1024);
    // Far more than the socket buffers hold: most events, and their fds, wait in the queue.
    for (let i = 0; i < 100; i++) connection!.sendEvent(1, big, [end.far]);
    await until(() => connection!.stats.queuedBytes > 0);
    expect(openFdCount()).toBeGreaterThan(baseline + 3);
    peer.child.kill('SIGKILL');
    await peer.exited;
    await until(() => running!.server.stats().connections === 0);
    sys.close(end.far);
    // No copy of `far` is left anywhere: not queued, not in the dead client's socket buffer.
    await until(() => farClosed(end.near));
    sys.close(end.near);
    expect(openFdCount()).toBe(baseline);
  });
});

// Shared memory carries bytes only: every way to send fds says so, and the connection goes on.
describe.each(shmBackendMatrix)('fds over shared memory, server on $server, client on $client', (backends) => {
  const { startServerOn, connectTo } = useBackends(backends);

  it('refuses fds with requests, responses and events with ENOTSUP, sends nothing, and leaks none', async () => {
    const fdsBefore = openFdCount();
    const end = pair();
    const running = await startServerOn(
      (server) =>
        server.addService({
          id: 1,
          name: 'fds',
          commands: {
            1: (payload) => payload,
            // A thrown IpcError reaches the caller.
            2: (payload, connection) => connection.withFds(payload, [end.far]),
            3: (_payload, connection) => {
              try {
                connection.sendEvent(7, Buffer.from('event'), [end.far]);
                return Buffer.from('sent');
              } catch (error) {
                return Buffer.from((error as IpcError).code);
              }
            },
          },
        }),
      { maxFdsPerMessage: 4 },
    );
    const client = await connectTo(running.address, 'fds');
    const bytesOut = client.stats.bytesOut;
    const refused = await rejection(client.request(1, Buffer.from('x'), { fds: [end.far] }));
    expect(refused.code).toBe('ENOTSUP');
    expect(refused.message).toMatch(/cannot pass fds/);
    expect(client.stats.bytesOut).toBe(bytesOut);
    expect((await rejection(client.request(2, Buffer.from('y')))).code).toBe('ENOTSUP');
    expect((await client.request(3)).toString()).toBe('ENOTSUP');
    expect(client.stats.events).toBe(0);
    expect((await client.request(1, Buffer.from('still here'))).toString()).toBe('still here');
    await client.close();
    await running.stop();
    sys.close(end.far);
    expect(farClosed(end.near)).toBe(true);
    sys.close(end.near);
    expect(openFdCount()).toBe(fdsBefore);
  });
});

/**
 * A raw client of the server at `address` that sent `greeting` and got its welcome: fds are read
 * from the handshake on (before, the server reads none, and the kernel drops them).
 */
async function welcomedRawClient(address: string, greeting = hello(1)): Promise<number> {
  const raw = sys.socketUnix();
  try {
    expect(sys.connectUnix(raw, address, false)).toBe(0);
    expect(sys.writev(raw, [greeting], 1)).toBe(greeting.length);
    const reply = Buffer.alloc(256);
    await until(() => sys.read(raw, reply, 0, reply.length) > 0);
    expect(reply[4]).toBe(2);
    return raw;
  } catch (error) {
    sys.close(raw);
    throw error;
  }
}

describe.each(serverBackendMatrix)('a raw client lying about fds, server on $server', (backends) => {
  const { startServerOn } = useBackends(backends);
  let running: TestServer | undefined;

  afterEach(async () => {
    await running?.stop();
    running = undefined;
  });

  /** Starts a server whose `fds` service takes up to `maxFds` fds per request and answers 'ran'. */
  async function serveRan(maxFds: number): Promise<TestServer> {
    return startServerOn(
      (server) => server.addService({ id: 1, name: 'fds', commands: { 1: () => Buffer.from('ran') } }),
      { maxFdsPerMessage: maxFds },
    );
  }

  /**
   * Sends a hello, then a request whose header says `claimed` fds while `sent` travel with it,
   * and checks the server ends the connection as a protocol error and keeps none of them.
   */
  async function lie(claimed: number, sent: number, cap = 4): Promise<void> {
    running = await serveRan(cap);
    const { server } = running;
    const baseline = openFdCount();
    const end = pair();
    const raw = await welcomedRawClient(running.address);
    try {
      const request = frame(4, 1, 1, Buffer.from('x'), 1, claimed);
      const fds = Array.from({ length: sent }, () => end.far);
      expect(sent > 0 ? sys.sendmsg(raw, [request], 1, fds) : sys.writev(raw, [request], 1)).toBe(request.length);
      sys.close(end.far);
      await until(() => server.stats().protocolErrors === 1 && server.stats().connections === 0);
      expect(server.stats().services[0]!.requests).toBe(0);
      // Whatever the server received of `far`, it kept nothing.
      expect(farClosed(end.near)).toBe(true);
    } finally {
      sys.close(raw);
      sys.close(end.near);
    }
    expect(openFdCount()).toBe(baseline);
  }

  it('fds sent with a request whose header says none', async () => {
    await lie(0, 2);
  });

  it('a header that says two fds, with one sent', async () => {
    await lie(2, 1);
  });

  it('a header that says fds, with none sent', async () => {
    await lie(1, 0);
  });

  it('a header that says more fds than the server takes', async () => {
    await lie(5, 5, 4);
  });

  it('fds sent in the middle of a frame: the connection ends before they pile up', async () => {
    running = await serveRan(1);
    const { server } = running;
    const baseline = openFdCount();
    const end = pair();
    const raw = await welcomedRawClient(running.address);
    try {
      // A request that says 100,000 bytes and one fd, then its payload a byte at a time, each with fds.
      const header = frame(4, 1, 1, Buffer.alloc(0), 100_000, 1);
      expect(sys.sendmsg(raw, [header], 1, [end.far])).toBe(header.length);
      for (let sends = 0; sends < 200; sends++) {
        if (sys.sendmsg(raw, [Buffer.from([0])], 1, [end.far, end.far, end.far]) < 0) break;
        if (server.stats().protocolErrors === 1) break;
      }
      await until(() => server.stats().protocolErrors === 1 && server.stats().connections === 0);
      sys.close(end.far);
    } finally {
      sys.close(raw);
    }
    expect(farClosed(end.near)).toBe(true);
    sys.close(end.near);
    expect(openFdCount()).toBe(baseline);
  });

  it('a client that never reads answers with fds: at most 1,024 wait for it, then its requests are not read', async () => {
    running = await startServerOn(
      (server) =>
        server.addService({
          id: 1,
          name: 'fds',
          commands: { 1: (_payload, connection) => connection.withFds(Buffer.alloc(0), [end.far]) },
        }),
      {},
    );
    const { server } = running;
    const end = pair();
    const baseline = openFdCount();
    // The client takes fds, so the server answers with them.
    const raw = await welcomedRawClient(running.address, hello(1, 1, '', 1 << 20, 253));
    try {
      const requests = Buffer.concat(Array.from({ length: 3000 }, (_, id) => frame(4, 1, id)));
      let written = 0;
      while (written < requests.length) {
        const n = sys.writev(raw, [requests.subarray(written)], 1);
        if (n < 0) break; // the server stopped reading: its side of the socket is full
        written += n;
      }
      await until(() => server.connections()[0]?.stats.readPaused === true);
      // Answers the kernel took hold their fds in flight; those queued are capped.
      expect(openFdCount() - baseline).toBeLessThanOrEqual(1024 + 8);
    } finally {
      sys.close(raw);
    }
    await until(() => server.stats().connections === 0);
    sys.close(end.far);
    await until(() => farClosed(end.near));
    sys.close(end.near);
    expect(openFdCount()).toBe(baseline - 2);
  });
});
