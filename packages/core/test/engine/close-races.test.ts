// Closing, crashing and destroying in the middle of things, in memory.
import { afterEach, describe, expect, it } from 'vitest';
import { IpcClient, IpcError, IpcServer, type Connection } from '@pollux/core';
import { ManualPoller, MemoryNetwork, MemoryTransport } from '@pollux/core/testing';
import { FrameKind } from '../../src/protocol/frame.js';
import { ADDRESS, frame, hello, memoryBed, type MemoryBed } from './memory-bed.js';

let bed: MemoryBed | undefined;

afterEach(async () => {
  await bed?.teardown();
  bed = undefined;
});

/** An echo service (command 1) whose command 2 answers when the test releases it, recording its hooks. */
function holdingService(server: IpcServer, held: (() => void)[], hooks: string[]): void {
  server.addService({
    id: 1,
    name: 'echo',
    commands: {
      1: (payload) => payload,
      2: (payload) => new Promise<Uint8Array>((resolve) => held.push(() => resolve(payload))),
    },
    closed: (_connection, reason) => hooks.push(`closed ${(reason as IpcError).code}`),
    destroyed: () => hooks.push('destroyed'),
  });
}

describe('the client ends first', () => {
  it('closes gracefully: requests in flight still get their answers, new ones reject with ESHUTDOWN', async () => {
    const held: (() => void)[] = [];
    const hooks: string[] = [];
    bed = await memoryBed((server) => holdingService(server, held, hooks));
    const client = await bed.connect('echo');
    const inFlight = client.request(2, Buffer.from('finishes'));
    await bed.poller.settle();
    const closing = client.close();
    await expect(client.request(1)).rejects.toMatchObject({ code: 'ESHUTDOWN' });
    await bed.poller.settle();
    expect(hooks).toEqual([]);
    held[0]!();
    await bed.poller.settle();
    expect((await inFlight).toString()).toBe('finishes');
    await closing;
    expect(hooks).toEqual(['closed ESHUTDOWN', 'destroyed']);
    expect(bed.server.stats().connections).toBe(0);
  });

  it('destroys at once: requests in flight reject with ECONNABORTED; the server sees a crash, and destroyed waits for its handlers', async () => {
    const held: (() => void)[] = [];
    const hooks: string[] = [];
    bed = await memoryBed((server) => holdingService(server, held, hooks));
    const client = await bed.connect('echo');
    const inFlight = client.request(2).catch((error: unknown) => error);
    await bed.poller.settle();
    const closed = new Promise<IpcError>((resolve) => client.once('close', resolve));
    client.destroy();
    expect(await inFlight).toMatchObject({ code: 'ECONNABORTED' });
    expect((await closed).code).toBe('ECONNABORTED');
    await bed.poller.settle();
    expect(hooks).toEqual(['closed ECONNRESET']);
    held[0]!();
    await bed.poller.settle();
    expect(hooks).toEqual(['closed ECONNRESET', 'destroyed']);
  });

  it('crashes mid-frame: closed runs once with ECONNRESET, and it is no protocol error', async () => {
    const hooks: string[] = [];
    bed = await memoryBed((server) => holdingService(server, [], hooks));
    const peer = await bed.raw();
    peer.write(hello('echo'));
    await peer.read();
    peer.write(frame(FrameKind.Request, 1, 1, Buffer.alloc(100)).subarray(0, 50));
    await bed.poller.settle();
    peer.channel.crash();
    await bed.poller.settle();
    expect(hooks).toEqual(['closed ECONNRESET', 'destroyed']);
    expect(bed.server.stats()).toMatchObject({ connections: 0, protocolErrors: 0 });
  });

  it('closes its socket mid-frame: the server ends it with EPROTO and counts a protocol error', async () => {
    const hooks: string[] = [];
    bed = await memoryBed((server) => holdingService(server, [], hooks));
    const peer = await bed.raw();
    peer.write(hello('echo'));
    await peer.read();
    peer.write(frame(FrameKind.Request, 1, 1, Buffer.alloc(100)).subarray(0, 50));
    peer.channel.close();
    await bed.poller.settle();
    expect(hooks).toEqual(['closed EPROTO', 'destroyed']);
    expect(bed.server.stats()).toMatchObject({ connections: 0, protocolErrors: 1 });
  });

  it('dies with handlers running: closed runs at once, the results go nowhere, destroyed runs after the last one', async () => {
    const held: (() => void)[] = [];
    const hooks: string[] = [];
    const opened: Connection<unknown>[] = [];
    bed = await memoryBed((server) => {
      holdingService(server, held, hooks);
      server.on('connection', (connection) => opened.push(connection));
    });
    const peer = await bed.raw();
    peer.write(hello('echo'));
    peer.write(Buffer.concat([1, 2, 3].map((id) => frame(FrameKind.Request, 2, id))));
    await bed.poller.settle();
    expect(held.length).toBe(3);
    peer.channel.crash();
    await bed.poller.settle();
    expect(hooks).toEqual(['closed ECONNRESET']);
    expect(opened[0]!.isOpen).toBe(false);
    expect(() => opened[0]!.sendEvent(1)).toThrowError(expect.objectContaining({ code: 'ENOTCONN' }));
    held[0]!();
    held[1]!();
    await bed.poller.settle();
    expect(hooks).toEqual(['closed ECONNRESET']);
    held[2]!();
    await bed.poller.settle();
    expect(hooks).toEqual(['closed ECONNRESET', 'destroyed']);
    expect(bed.server.stats()).toMatchObject({ connections: 0, inFlight: 0 });
  });
});

describe('the server ends first', () => {
  it('closes gracefully: running handlers answer, then a goodbye; a request it never read rejects with ESHUTDOWN and never ran', async () => {
    const held: (() => void)[] = [];
    const hooks: string[] = [];
    bed = await memoryBed((server) => holdingService(server, held, hooks));
    const client = await bed.connect('echo');
    const ended = new Promise<IpcError>((resolve) => client.once('close', resolve));
    const inFlight = client.request(2, Buffer.from('finishes'));
    await bed.poller.settle();
    const closing = bed.server.close();
    const unread = client.request(1, Buffer.from('too late')).catch((error: unknown) => error);
    await bed.poller.settle();
    expect(hooks).toEqual([]);
    held[0]!();
    await bed.poller.settle();
    expect((await inFlight).toString()).toBe('finishes');
    expect(await unread).toMatchObject({
      code: 'ESHUTDOWN',
      message: expect.stringContaining('it did not run, so it is safe to send again'),
    });
    expect((await ended).code).toBe('ESHUTDOWN');
    await closing;
    expect(hooks).toEqual(['closed ECONNABORTED', 'destroyed']);
    expect(bed.server.stats().services[0]).toMatchObject({ requests: 1, responses: 1 });
    await expect(bed.server.listen(ADDRESS)).rejects.toMatchObject({ code: 'ESHUTDOWN' });
  });

  it('is destroyed during a graceful close: pending requests reject with ECONNRESET, closed runs once, both promises resolve', async () => {
    const held: (() => void)[] = [];
    const hooks: string[] = [];
    bed = await memoryBed((server) => holdingService(server, held, hooks));
    const client = await bed.connect('echo');
    const stuck = client.request(2).catch((error: unknown) => error);
    await bed.poller.settle();
    const closing = bed.server.close();
    await bed.poller.settle();
    const destroying = bed.server.destroy();
    expect(bed.server.destroy()).toBe(destroying);
    await bed.poller.settle();
    await Promise.all([closing, destroying]);
    expect(await stuck).toMatchObject({ code: 'ECONNRESET' });
    expect(hooks).toEqual(['closed ECONNABORTED']);
    held[0]!();
    await bed.poller.settle();
    expect(hooks).toEqual(['closed ECONNABORTED', 'destroyed']);
    expect(bed.server.stats().connections).toBe(0);
  });

  it('closes right after the client did, with no turn between: the goodbye waiting unread makes it orderly', async () => {
    const hooks: string[] = [];
    bed = await memoryBed((server) => holdingService(server, [], hooks));
    const client = await bed.connect('echo');
    const reply = client.request(1, Buffer.from('x'));
    await bed.poller.settle();
    await reply;
    const clientClosed = client.close();
    const serverClosed = bed.server.close();
    await bed.poller.settle();
    await Promise.all([clientClosed, serverClosed]);
    expect(hooks).toEqual(['closed ESHUTDOWN', 'destroyed']);
  });

  it('crashes: every pending request of every client rejects with ECONNRESET, and the clients close', async () => {
    // Not on the shared bed: a crashed server is never closed, as a dead process never is.
    const network = new MemoryNetwork();
    const poller = new ManualPoller(network);
    const server = new IpcServer({ poller, transport: new MemoryTransport(network) });
    server.addService({ id: 1, name: 'hold', commands: { 0: () => new Promise<void>(() => undefined) } });
    await server.listen(ADDRESS);
    const transports = [new MemoryTransport(network), new MemoryTransport(network)];
    const clients = await Promise.all(
      transports.map((transport) => poller.settled(IpcClient.connect(ADDRESS, { service: 'hold', poller, transport }))),
    );
    const closes = clients.map((client) => new Promise<IpcError>((resolve) => client.once('close', resolve)));
    const pending = clients.flatMap((client) => [0, 1].map(() => client.request(0).catch((error: unknown) => error)));
    await poller.settle();
    for (const transport of transports) transport.connections[0]!.peer.crash();
    await poller.settle();
    for (const failure of await Promise.all(pending)) {
      expect(failure).toBeInstanceOf(IpcError);
      expect(failure).toMatchObject({
        code: 'ECONNRESET',
        message: expect.stringContaining('may or may not have run'),
      });
    }
    expect((await Promise.all(closes)).map((reason) => reason.code)).toEqual(['ECONNRESET', 'ECONNRESET']);
    expect(clients.map((client) => client.isOpen)).toEqual([false, false]);
    for (const transport of transports) expect(transport.connections[0]!.isClosed).toBe(true);
  });
});
