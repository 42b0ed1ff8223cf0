// A channel that translates readiness (as a shared-memory one will): the engine asks it, and obeys it.
import { afterEach, describe, expect, it } from 'vitest';
import { IpcClient, IpcServer, Ready, type Channel, type ReadyMask, type Transport } from '@pollux/core';
import { ManualPoller, MemoryNetwork, MemoryTransport } from '@pollux/core/testing';

/**
 * A memory channel whose readiness goes through `watchFor` and `readiness`, recording both; while
 * `gated`, it reports no readiness for reading, as a wake-up channel whose ring is empty would.
 */
class TranslatingChannel implements Channel {
  readonly watched: ReadyMask[] = [];
  readonly reported: ReadyMask[] = [];
  gated = false;
  constructor(private readonly inner: Channel) {}

  get fd(): number {
    return this.inner.fd;
  }
  get credentials() {
    return this.inner.credentials;
  }
  get maxFdsPerWrite(): number {
    return this.inner.maxFdsPerWrite ?? 0;
  }
  read(buffer: Uint8Array, offset: number, length: number, fds?: number[]): number {
    return this.inner.read(buffer, offset, length, fds);
  }
  writev(chunks: readonly Uint8Array[], count: number, fds?: readonly number[]): number {
    return this.inner.writev(chunks, count, fds);
  }
  close(): void {
    this.inner.close();
  }
  watchFor(interest: ReadyMask): ReadyMask {
    this.watched.push(interest);
    return interest;
  }
  readiness(ready: ReadyMask): ReadyMask {
    this.reported.push(ready);
    return this.gated ? ready & ~Ready.Readable : ready;
  }
}

describe('a channel that translates its readiness', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
  });

  it('is asked what to watch for and what readiness means, and the engine reads only when it says so', async () => {
    const network = new MemoryNetwork();
    const poller = new ManualPoller(network);
    const accepted: TranslatingChannel[] = [];
    const memory = new MemoryTransport(network, { uid: 0, gid: 0 });
    const transport: Transport = {
      listen: (address) => {
        const listener = memory.listen(address);
        return {
          fd: listener.fd,
          address: listener.address,
          accept: () => {
            const channel = listener.accept();
            if (typeof channel === 'number') return channel;
            const translating = new TranslatingChannel(channel);
            accepted.push(translating);
            return translating;
          },
          close: () => listener.close(),
        };
      },
      connect: (address) => memory.connect(address),
    };
    const server = new IpcServer({ poller, transport });
    server.addService({ id: 1, name: 'echo', commands: { 1: (payload) => payload } });
    await server.listen('translated');
    const client = await poller.settled(
      IpcClient.connect('translated', { service: 1, poller, transport: new MemoryTransport(network, {}) }),
    );
    cleanup = async () => {
      client.destroy();
      await poller.settled(server.close());
    };
    const channel = accepted[0]!;
    // The link asked what to watch for when it started: reading.
    expect(channel.watched[0]).toBe(Ready.Readable);
    expect(channel.reported.length).toBeGreaterThan(0);

    channel.gated = true;
    const answer = client.request(1, Buffer.from('through the gate'));
    let answered = false;
    void answer.then(() => {
      answered = true;
    });
    await poller.settle();
    // The fd is readable, but the channel says there is nothing to read: the request waits.
    expect(answered).toBe(false);
    expect(channel.reported.at(-1)! & Ready.Readable).toBe(Ready.Readable);

    channel.gated = false;
    expect((await poller.settled(answer)).toString()).toBe('through the gate');
  });
});
