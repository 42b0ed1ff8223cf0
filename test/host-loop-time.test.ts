// Time through the poller: every engine delay works in a host loop that never lets Node's loop turn.
import { IpcClient, IpcServer, type Transport } from '@pollux/core';
import { PumpPoller } from '@pollux/poll-pump';
import { SocketTransport } from '@pollux/transport-socket';
import { afterEach, describe, expect, it } from 'vitest';
import { openFdCount } from './support/fds.js';
import { scratchSocket, type ScratchSocket } from './support/server.js';

/** Only a hang guard: a condition that never comes fails the test instead of stalling the run. */
const HANG_GUARD_MS = 60_000;

/**
 * The host's loop: pumps and lets promise continuations run (as a C host does after each call
 * into JavaScript), but never returns to Node's event loop, so no Node timer, immediate or I/O
 * callback can run until `until()` holds. A Node immediate scheduled first proves it.
 */
async function hostLoop(poller: PumpPoller, until: () => boolean): Promise<void> {
  let nodeLoopTurned = false;
  const immediate = setImmediate(() => {
    nodeLoopTurned = true;
  });
  const guard = performance.now() + HANG_GUARD_MS;
  try {
    while (!until()) {
      if (performance.now() > guard) throw new Error('the host loop waited in vain');
      poller.pump(20);
      await null;
    }
  } finally {
    clearImmediate(immediate);
  }
  expect(nodeLoopTurned).toBe(false);
}

/** Tracks a promise's settlement without awaiting it. */
function watch<T>(promise: Promise<T>): { settled: () => boolean; result: Promise<T> } {
  let done = false;
  const result = promise.finally(() => {
    done = true;
  });
  result.catch(() => {});
  return { settled: () => done, result };
}

describe('a host loop that blocks Node’s loop (PumpPoller pumped synchronously)', () => {
  const transport = new SocketTransport();
  let poller: PumpPoller;
  let sockets: ScratchSocket[] = [];
  let cleanups: (() => void | Promise<void>)[] = [];
  let fdsBefore = 0;

  function socket(): string {
    const made = scratchSocket();
    sockets.push(made);
    return made.address;
  }

  async function server(address: string, handler: () => Promise<Uint8Array>, handshakeTimeout = 5000) {
    const made = new IpcServer({ poller, transport, handshakeTimeout });
    made.addService({ id: 1, name: 'slow', commands: { 1: handler } });
    await made.listen(address);
    cleanups.push(() => {
      void made.destroy();
    });
    return made;
  }

  async function client(address: string, options: Partial<Parameters<typeof IpcClient.connect>[1]> = {}) {
    const connecting = watch(IpcClient.connect(address, { service: 1, poller, transport, ...options }));
    await hostLoop(poller, connecting.settled);
    const made = await connecting.result;
    cleanups.push(() => made.destroy());
    return made;
  }

  afterEach(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    // The ends of destroyed connections leave the poller on its next turn.
    poller.pump(0);
    poller.close();
    for (const made of sockets) made.remove();
    sockets = [];
    cleanups = [];
    expect(openFdCount()).toBe(fdsBefore);
  });

  function start(): void {
    fdsBefore = openFdCount();
    poller = new PumpPoller();
  }

  it('drops a client that sends no handshake within handshakeTimeout', async () => {
    start();
    const address = socket();
    await server(address, () => new Promise(() => {}), 100);
    const silent = transport.connectSync(address);
    cleanups.push(() => silent.close());
    const buffer = new Uint8Array(64);
    await hostLoop(poller, () => silent.read(buffer, 0, buffer.length) === 0);
  });

  it('gives up a handshake the server never answers after the client’s timeout', async () => {
    start();
    const address = socket();
    // Listening, but nobody accepts: the kernel completes the connect and the hello goes unread.
    const mute = transport.listen(address);
    cleanups.push(() => mute.close());
    const connecting = watch(IpcClient.connect(address, { service: 1, poller, transport, timeout: 100 }));
    await hostLoop(poller, connecting.settled);
    await expect(connecting.result).rejects.toMatchObject({ code: 'ETIMEDOUT' });
  });

  it('rejects a request with ETIMEDOUT once its timeout passes', async () => {
    start();
    const address = socket();
    await server(address, () => new Promise(() => {}));
    const connected = await client(address);
    const request = watch(connected.request(1, Buffer.from('ping'), { timeout: 100 }));
    await hostLoop(poller, request.settled);
    await expect(request.result).rejects.toMatchObject({ code: 'ETIMEDOUT' });
  });

  it('retries with backoff until the server appears', async () => {
    start();
    const address = socket();
    let attempts = 0;
    const counting: Transport = {
      listen: (at) => transport.listen(at),
      connect: (at) => {
        attempts++;
        return transport.connect(at);
      },
    };
    const connecting = watch(
      IpcClient.connect(address, {
        service: 1,
        poller,
        transport: counting,
        retry: { initialDelay: 10, maxDelay: 40, deadline: HANG_GUARD_MS },
      }),
    );
    await hostLoop(poller, () => attempts >= 3);
    expect(connecting.settled()).toBe(false);
    await server(address, async () => Buffer.from('pong'));
    await hostLoop(poller, connecting.settled);
    const connected = await connecting.result;
    cleanups.push(() => connected.destroy());
    expect(attempts).toBeGreaterThanOrEqual(4);
    const answer = watch(connected.request(1));
    await hostLoop(poller, answer.settled);
    expect((await answer.result).toString()).toBe('pong');
  });

  it('ends a graceful close at its deadline when a handler never answers', async () => {
    start();
    const address = socket();
    let started = false;
    const made = await server(address, () => {
      started = true;
      return new Promise(() => {});
    });
    const connected = await client(address);
    const request = watch(connected.request(1));
    await hostLoop(poller, () => started);
    const closing = watch(made.close({ timeout: 100 }));
    await hostLoop(poller, () => closing.settled() && request.settled());
    await closing.result;
    // The server read the request, so the goodbye says it may have run: not safe to resend blindly.
    await expect(request.result).rejects.toMatchObject({ code: 'ECONNRESET' });
  });
});
