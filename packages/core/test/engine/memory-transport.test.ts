// The memory transport keeps the Channel and Listener contracts as a Unix socket does.
import { describe, expect, it } from 'vitest';
import { IpcError, Ready } from '@pollux/core';
import { MemoryNetwork, MemoryTransport, type MemoryChannel } from '@pollux/core/testing';
import { ECONNRESET, EAGAIN, EPIPE } from '../../src/errors.js';

const EBADF = -9;

/** A connected pair: the client's end and the server's, accepted. */
async function pair(network: MemoryNetwork, credentials = {}): Promise<[MemoryChannel, MemoryChannel]> {
  const listener = new MemoryTransport(network, { uid: 0 }).listen(`pair-${network.openFds}`);
  const client = await new MemoryTransport(network, credentials).connect(listener.address);
  const server = listener.accept();
  listener.close();
  if (typeof server === 'number') throw new Error(`accept failed: ${server}`);
  return [client, server as MemoryChannel];
}

function readAll(channel: MemoryChannel, fds?: number[]): { bytes: number[]; status: number } {
  const bytes: number[] = [];
  const buffer = new Uint8Array(64);
  for (;;) {
    const n = channel.read(buffer, 0, buffer.length, fds);
    if (n <= 0) return { bytes, status: n };
    bytes.push(...buffer.subarray(0, n));
  }
}

describe('MemoryTransport', () => {
  it('connects to a listener, which accepts the peer with the credentials of the connecting transport', async () => {
    const network = new MemoryNetwork();
    const server = new MemoryTransport(network, { pid: 1, uid: 0, gid: 0 });
    const listener = server.listen('here');
    expect(network.readiness(listener.fd, Ready.Readable)).toBe(0);
    const client = await new MemoryTransport(network, { pid: 77, uid: 1001, gid: 1002 }).connect('here');
    expect(network.readiness(listener.fd, Ready.Readable)).toBe(Ready.Readable);
    const accepted = listener.accept() as MemoryChannel;
    expect(listener.accept()).toBe(EAGAIN);
    expect(accepted.credentials).toEqual({ pid: 77, uid: 1001, gid: 1002 });
    expect(client.credentials).toEqual({ pid: 1, uid: 0, gid: 0 });
    expect(accepted.peer).toBe(client);
    listener.close();
    client.close();
    accepted.close();
    expect(network.openFds).toBe(0);
  });

  it('refuses a connection to an address nobody listens on with ECONNREFUSED, and resets connections a closed listener never accepted', async () => {
    const network = new MemoryNetwork();
    const transport = new MemoryTransport(network);
    const refusal = await transport.connect('nowhere').catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(IpcError);
    expect(refusal).toMatchObject({ code: 'ECONNREFUSED', message: expect.stringContaining('nowhere') });
    const listener = transport.listen('briefly');
    const client = await transport.connect('briefly');
    listener.close();
    expect(client.read(new Uint8Array(8), 0, 8)).toBe(ECONNRESET);
    client.close();
    expect(network.openFds).toBe(0);
  });

  it('fails to listen twice on one address with EADDRINUSE, and frees the address on close', () => {
    const network = new MemoryNetwork();
    const transport = new MemoryTransport(network);
    const listener = transport.listen('taken');
    expect(() => transport.listen('taken')).toThrowError(expect.objectContaining({ code: 'EADDRINUSE' }));
    listener.close();
    transport.listen('taken').close();
    expect(network.openFds).toBe(0);
  });
});

describe('MemoryChannel', () => {
  it('takes only what fits its buffer, returns -EAGAIN when full, and has room again once the peer reads', async () => {
    const network = new MemoryNetwork({ bufferSize: 10 });
    const [a, b] = await pair(network);
    expect(network.readiness(a.fd, Ready.Writable)! & Ready.Writable).toBeTruthy();
    expect(a.writev([new Uint8Array([1, 2, 3, 4]), new Uint8Array([5, 6, 7, 8, 9, 10, 11])], 2)).toBe(10);
    expect(network.readiness(a.fd, Ready.Writable)! & Ready.Writable).toBe(0);
    expect(a.writev([new Uint8Array([12])], 1)).toBe(EAGAIN);
    expect(network.readiness(b.fd, Ready.Readable)).toBe(Ready.Readable | Ready.Writable);
    const buffer = new Uint8Array(4);
    expect(b.read(buffer, 0, 4)).toBe(4);
    expect([...buffer]).toEqual([1, 2, 3, 4]);
    expect(a.writev([new Uint8Array([12, 13, 14, 15, 16])], 1)).toBe(4);
    // Byte 11 never went in: the first write took 10 of its 11.
    expect(readAll(b)).toEqual({ bytes: [5, 6, 7, 8, 9, 10, 12, 13, 14, 15], status: EAGAIN });
  });

  it('copies what it takes: the writer may reuse its buffer at once', async () => {
    const [a, b] = await pair(new MemoryNetwork());
    const chunk = new Uint8Array([1, 2, 3]);
    a.writev([chunk], 1);
    chunk.fill(9);
    expect(readAll(b).bytes).toEqual([1, 2, 3]);
  });

  it('closes in order: the peer reads the rest, then end of file, sees HangUp, and its writes fail with -EPIPE', async () => {
    const network = new MemoryNetwork();
    const [a, b] = await pair(network);
    a.writev([new Uint8Array([1, 2])], 1);
    a.close();
    expect(network.readiness(b.fd, 0)! & (Ready.HangUp | Ready.Error)).toBe(Ready.HangUp);
    expect(readAll(b)).toEqual({ bytes: [1, 2], status: 0 });
    expect(b.writev([new Uint8Array([3])], 1)).toBe(EPIPE);
    expect(a.read(new Uint8Array(1), 0, 1)).toBe(EBADF);
    b.close();
    expect(network.openFds).toBe(0);
  });

  it('resets the peer when it closes with bytes unread, as a Unix socket does', async () => {
    const network = new MemoryNetwork();
    const [a, b] = await pair(network);
    b.writev([new Uint8Array([1])], 1);
    a.writev([new Uint8Array([7])], 1);
    a.close();
    expect(network.readiness(b.fd, 0)! & (Ready.HangUp | Ready.Error)).toBe(Ready.HangUp | Ready.Error);
    // What was sent before the reset is still read first.
    expect(readAll(b)).toEqual({ bytes: [7], status: ECONNRESET });
    expect(b.read(new Uint8Array(1), 0, 1)).toBe(0);
    b.close();
  });

  it('crashes: the peer reads what was sent, then -ECONNRESET, and writes fail; the crashed end goes silent until closed', async () => {
    const network = new MemoryNetwork();
    const [a, b] = await pair(network);
    a.writev([new Uint8Array([1, 2, 3])], 1);
    a.crash();
    expect(b.writev([new Uint8Array([4])], 1)).toBe(ECONNRESET);
    expect(readAll(b)).toEqual({ bytes: [1, 2, 3], status: ECONNRESET });
    expect(network.readiness(a.fd, Ready.Readable | Ready.Writable)).toBe(0);
    expect(a.read(new Uint8Array(1), 0, 1)).toBe(EAGAIN);
    expect(network.openFds).toBe(2);
    a.close();
    b.close();
    expect(network.openFds).toBe(0);
  });

  it('shuts one way: the peer reads end of file (HangUp only while reading) and can still write back', async () => {
    const network = new MemoryNetwork();
    const [a, b] = await pair(network);
    a.shutdownWrite();
    expect(network.readiness(b.fd, 0)! & Ready.HangUp).toBe(0);
    expect(network.readiness(b.fd, Ready.Readable)! & Ready.HangUp).toBe(Ready.HangUp);
    expect(b.read(new Uint8Array(1), 0, 1)).toBe(0);
    expect(a.writev([new Uint8Array([1])], 1)).toBe(EPIPE);
    expect(b.writev([new Uint8Array([5])], 1)).toBe(1);
    expect(readAll(a).bytes).toEqual([5]);
  });

  it('passes fds with the first byte of their write, as new fds for the same files, and leaks none a reader does not take', async () => {
    const network = new MemoryNetwork();
    const [a, b] = await pair(network);
    const file = network.openFile();
    expect(a.maxFdsPerWrite).toBe(253);
    expect(a.writev([new Uint8Array([1, 2])], 1, [file])).toBe(2);
    expect(a.writev([new Uint8Array([3])], 1, [file, file])).toBe(1);
    const received: number[] = [];
    const buffer = new Uint8Array(8);
    // The second write's fds stop the first read before its byte.
    expect(b.read(buffer, 0, 8, received)).toBe(2);
    expect(received.length).toBe(1);
    expect(received[0]).not.toBe(file);
    expect(network.fileOf(received[0]!)).toBe(network.fileOf(file));
    expect(b.read(buffer, 0, 8)).toBe(1);
    const open = network.openFds;
    for (const fd of [...received, file]) network.closeFd(fd);
    expect(network.openFds).toBe(open - 2);
    expect(a.writev([new Uint8Array([4])], 1, [file])).toBe(EBADF);
    expect(
      a.writev(
        [new Uint8Array([4])],
        1,
        Array.from({ length: 254 }, () => received[0]!),
      ),
    ).toBe(-22);
  });

  it('takes no fds at all from a network with maxFdsPerWrite 0', async () => {
    const network = new MemoryNetwork({ maxFdsPerWrite: 0 });
    const [a] = await pair(network);
    expect(a.writev([new Uint8Array([1])], 1, [network.openFile()])).toBe(-22);
    expect(() => new MemoryNetwork({ bufferSize: 0 })).toThrowError(expect.objectContaining({ code: 'EINVAL' }));
  });
});
