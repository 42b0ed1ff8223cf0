import { Ready, type Channel } from '@pollux/core';
import { ftruncateSync } from 'node:fs';
import * as sys from '@pollux/sys';
import { afterEach, expect, it } from 'vitest';
import { openFdCount } from '../../../test/support/fds.js';
import { ShmTransport } from '../src/index.js';
import { SHM_OFFER, SWITCH_BYTE } from '../src/shm-channel.js';

const EAGAIN = -11;
const opened: { close(): void }[] = [];
let fdsBefore = openFdCount();

afterEach(() => {
  for (const endpoint of opened.splice(0)) endpoint.close();
  expect(openFdCount()).toBe(fdsBefore);
});

function readable(fd: number): boolean {
  const revents = new Int32Array(1);
  sys.poll(Int32Array.of(fd), Int32Array.of(sys.POLLIN), revents, 1, 0);
  return (revents[0]! & sys.POLLIN) !== 0;
}

/** A client and a server channel past the switch: both directions in their rings. */
async function connectedPair(ringBytes: number, spinMicros = 0): Promise<{ client: Channel; server: Channel }> {
  fdsBefore = openFdCount();
  const transport = new ShmTransport({ ringBytes, spinMicros });
  const listener = transport.listen(`@pollux-shm-channel-${process.pid}`);
  opened.push(listener);
  const client = await transport.connect(listener.address);
  opened.push(client);
  const server = listener.accept();
  if (typeof server === 'number') throw new Error(`accept: ${server}`);
  opened.push(server);
  const buffer = new Uint8Array(64);
  client.watchFor!(Ready.Readable);
  server.watchFor!(Ready.Readable);
  // The hello and the answer go on the socket; the client switches once it read the answer, the
  // server once it read the client's switch byte; the client reads the server's.
  expect(client.writev([Buffer.from('hello')], 1)).toBe(5);
  expect(server.read(buffer, 0, 64)).toBe(5);
  expect(server.writev([Buffer.from('welcome')], 1)).toBe(7);
  expect(client.read(buffer, 0, 64)).toBe(7);
  expect(server.read(buffer, 0, 64)).toBe(EAGAIN);
  expect(client.read(buffer, 0, 64)).toBe(EAGAIN);
  return { client, server };
}

it('wakes a writer whose ring a short write filled once the reader makes room, with no new interest', async () => {
  const { client, server } = await connectedPair(4096);
  // Wanting Writable while there is room makes the fd ready; the readiness that says so settles it.
  client.watchFor!(Ready.Readable | Ready.Writable);
  expect(client.readiness!(Ready.Readable)).toBe(Ready.Writable);
  const big = Buffer.alloc(10_000, 1);
  // The engine takes a short write for "full" and waits for Writable, asking for nothing new.
  expect(client.writev([big], 1)).toBe(4096);
  expect(readable(client.fd)).toBe(false);
  const buffer = new Uint8Array(1000);
  expect(server.read(buffer, 0, 1000)).toBe(1000);
  expect(readable(client.fd)).toBe(true);
  expect(client.readiness!(Ready.Readable) & Ready.Writable).toBe(Ready.Writable);
  expect(client.writev([big.subarray(4096)], 1)).toBe(1000);
});

it('wakes a sleeping reader once per sleep, and not a busy one', async () => {
  const { client, server } = await connectedPair(4096);
  const buffer = new Uint8Array(4096);
  // The server found its ring empty at the switch and sleeps: the first write rings, the next does not.
  expect(client.writev([Buffer.from('one')], 1)).toBe(3);
  expect(readable(server.fd)).toBe(true);
  expect(server.readiness!(Ready.Readable)).toBe(Ready.Readable);
  expect(client.writev([Buffer.from('two')], 1)).toBe(3);
  expect(server.read(buffer, 0, 4096)).toBe(6);
  expect(Buffer.from(buffer.subarray(0, 6)).toString()).toBe('onetwo');
  expect(readable(server.fd)).toBe(false);
});

it('refuses a spinMicros that is negative, not finite, above 1,000 µs or not a number, with EINVAL', () => {
  for (const spinMicros of [-1, Number.NaN, Number.POSITIVE_INFINITY, 1000.5, '50' as unknown as number]) {
    expect(() => new ShmTransport({ spinMicros })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  }
  expect(() => new ShmTransport({ spinMicros: 1000 })).not.toThrow();
});

it('waits for an answer only with spinMicros, and sleeps again when none came: the next write rings', async () => {
  const unspun = await connectedPair(4096);
  unspun.client.writev([Buffer.from('now')], 1);
  // Without a spin the engine is told at once to sleep; the write rang as it would anyway.
  expect(unspun.server.awaitReadable!()).toBe(false);
  for (const endpoint of opened.splice(0)) endpoint.close();

  const { client, server } = await connectedPair(4096, 100);
  const buffer = new Uint8Array(64);
  // The doorbell the client rang when it saw the server's memory is read first.
  expect(server.readiness!(Ready.Readable)).toBe(0);
  // Nothing comes within the spin: the server says it sleeps again, so the client's write rings.
  expect(server.awaitReadable!()).toBe(false);
  expect(readable(server.fd)).toBe(false);
  expect(client.writev([Buffer.from('one')], 1)).toBe(3);
  expect(readable(server.fd)).toBe(true);
  expect(server.readiness!(Ready.Readable)).toBe(Ready.Readable);
  expect(server.read(buffer, 0, 64)).toBe(3);
  // What is there when the wait begins is found at once, and read once.
  expect(client.writev([Buffer.from('two')], 1)).toBe(3);
  expect(server.awaitReadable!()).toBe(true);
  expect(server.read(buffer, 0, 64)).toBe(3);
  expect(Buffer.from(buffer.subarray(0, 3)).toString()).toBe('two');
  expect(server.read(buffer, 0, 64)).toBe(EAGAIN);
  // A peer that closes while we wait ends the wait, and the stream.
  client.close();
  expect(server.awaitReadable!()).toBe(true);
  expect(server.read(buffer, 0, 64)).toBe(0);
});

it('spins at most four spins long between two reports of readiness, however the spins end', async () => {
  const { client, server } = await connectedPair(4096, 100);
  /** The server's "sleeps until data" word as the client sees it: a new sleep generation per spin that ran out. */
  const sleeps = (): number => Atomics.load((client as unknown as { peer: { words: Int32Array } }).peer.words, 48);
  expect(server.readiness!(Ready.Readable)).toBe(0);
  // Each spin that runs out spends at least what it asked of the budget of four, so at most four
  // go to sleep anew (fewer when one overran, the process preempted); then none spins at all.
  let spins = 0;
  for (let tries = 0; tries < 10; tries++) {
    const before = sleeps();
    expect(server.awaitReadable!()).toBe(false);
    if (sleeps() === before) break;
    spins++;
  }
  expect(spins).toBeGreaterThanOrEqual(1);
  expect(spins).toBeLessThanOrEqual(4);
  // Spent: no spin until the poller reports the channel again, and the sleep stays as it was.
  const asleep = sleeps();
  expect(server.awaitReadable!()).toBe(false);
  expect(sleeps()).toBe(asleep);
  expect(server.readiness!(Ready.Readable)).toBe(0);
  expect(server.awaitReadable!()).toBe(false);
  expect(sleeps()).not.toBe(asleep);
});

/** A server channel and the raw socket of a client that speaks bytes of the test's choosing. */
function rawClientOf(): { server: Channel; socket: number } {
  fdsBefore = openFdCount();
  const listener = new ShmTransport().listen(`@pollux-shm-raw-${process.pid}`);
  opened.push(listener);
  const socket = sys.socketUnix();
  opened.push({ close: () => sys.close(socket) });
  expect(sys.connectUnix(socket, listener.address.slice(1), true)).toBe(0);
  const server = listener.accept();
  if (typeof server === 'number') throw new Error(`accept: ${server}`);
  opened.push(server);
  server.watchFor!(Ready.Readable);
  return { server, socket };
}

/** Memory as an honest client makes it: a 4 KiB header and a 4 KiB ring, sealed. */
function sealedMemory(): number {
  const fd = sys.memfdCreate('test');
  ftruncateSync(fd, 8192);
  sys.addSeals(fd, sys.F_SEAL_FUTURE_WRITE | sys.F_SEAL_SHRINK | sys.F_SEAL_GROW | sys.F_SEAL_SEAL);
  return fd;
}

it("hands the engine a client's bytes without its offer, and a plain client's bytes as they came", () => {
  const buffer = new Uint8Array(64);
  const offering = rawClientOf();
  sys.writev(offering.socket, [SHM_OFFER, Buffer.from('hello')], 2);
  expect(offering.server.read(buffer, 0, 64)).toBe(5);
  expect(Buffer.from(buffer.subarray(0, 5)).toString()).toBe('hello');
  for (const endpoint of opened.splice(0)) endpoint.close();

  const plain = rawClientOf();
  sys.writev(plain.socket, [Buffer.from('shm hello')], 1);
  expect(plain.server.read(buffer, 0, 64)).toBe(9);
  expect(Buffer.from(buffer.subarray(0, 9)).toString()).toBe('shm hello');
});

it('refuses the memory of a client that made no offer, or sent it before its hello was answered, and closes its fds', () => {
  const buffer = new Uint8Array(64);
  const cases: { before: Uint8Array[]; answer: boolean; refusal: string }[] = [
    { before: [Buffer.from('hello')], answer: true, refusal: 'without offering to switch first' },
    { before: [SHM_OFFER, Buffer.from('hello')], answer: false, refusal: 'before its hello was answered' },
  ];
  for (const { before, answer, refusal } of cases) {
    const { server, socket } = rawClientOf();
    sys.writev(socket, before, before.length);
    expect(server.read(buffer, 0, 64)).toBe(5);
    if (answer) expect(server.writev([Buffer.from('welcome')], 1)).toBe(7);
    const memory = sealedMemory();
    sys.sendmsg(socket, [Uint8Array.of(SWITCH_BYTE)], 1, [memory]);
    sys.close(memory);
    expect(() => server.read(buffer, 0, 64)).toThrow(
      expect.objectContaining({ code: 'EPROTO', message: expect.stringContaining(refusal) }),
    );
    // afterEach finds no fd left open: the received memfd was closed.
    for (const endpoint of opened.splice(0)) endpoint.close();
    expect(openFdCount()).toBe(fdsBefore);
  }
});
