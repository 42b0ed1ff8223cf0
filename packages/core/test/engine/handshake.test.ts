// The engine's handshake, in memory: welcome, refusals, and hellos that are not hellos.
import { afterEach, describe, expect, it } from 'vitest';
import { IpcClient, IpcError, type Connection, type Credentials } from '@pollux/core';
import { MemoryTransport } from '@pollux/core/testing';
import { FrameKind } from '../../src/protocol/frame.js';
import { decodeError, encodeHello, PROTOCOL_VERSION } from '../../src/protocol/handshake.js';
import { frame, frames, hello, memoryBed, type MemoryBed } from './memory-bed.js';

let bed: MemoryBed | undefined;

afterEach(async () => {
  await bed?.teardown();
  bed = undefined;
});

describe('handshake', () => {
  it('welcomes a client by id or by name, agreeing the smaller message size, and tells the service who connected', async () => {
    const seen: Credentials[] = [];
    const created: Connection<{ uid: number }>[] = [];
    bed = await memoryBed(
      (server) =>
        server.addService<{ uid: number }>({
          id: 7,
          name: 'echo',
          accept: (credentials) => {
            seen.push(credentials);
            return true;
          },
          createContext: (credentials) => ({ uid: credentials.uid }),
          created: (connection) => created.push(connection),
          commands: { 1: (payload) => payload },
        }),
      { maxMessageSize: 4096 },
    );
    const byName = await bed.connect('echo', { maxMessageSize: 1024 }, { pid: 31, uid: 1001, gid: 1002 });
    const byId = await bed.connect(7);
    expect([byName.serviceId, byName.serviceName, byName.maxMessageSize]).toEqual([7, 'echo', 1024]);
    expect([byId.serviceId, byId.serviceName, byId.maxMessageSize]).toEqual([7, 'echo', 4096]);
    // The client sees the credentials of the process that listens.
    expect(byName.serverCredentials).toMatchObject({ uid: 0, gid: 0 });
    expect(seen[0]).toEqual({ pid: 31, uid: 1001, gid: 1002 });
    expect(created.map((connection) => [connection.context.uid, connection.maxMessageSize])).toEqual([
      [1001, 1024],
      [1000, 4096],
    ]);
    expect(bed.server.stats()).toMatchObject({ accepted: 2, refused: 0, connections: 2 });
  });

  it("refuses a client its service's accept hook turns away, with EACCES or the hook's own code, and keeps serving", async () => {
    bed = await memoryBed((server) => {
      server.addService({ id: 1, name: 'root-only', accept: (credentials) => credentials.uid === 0, commands: {} });
      server.addService({
        id: 2,
        name: 'no-guests',
        accept: (credentials) => (credentials.uid === 65534 ? 'EPERM' : true),
        commands: {},
      });
    });
    const refusal = await bed.connect('root-only', {}, { uid: 1000 }).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(IpcError);
    expect(refusal).toMatchObject({ code: 'EACCES', message: expect.stringContaining('refused uid 1000') });
    await expect(bed.connect('no-guests', {}, { uid: 65534 })).rejects.toMatchObject({ code: 'EPERM' });
    expect((await bed.connect('root-only', {}, { uid: 0 })).serviceName).toBe('root-only');
    expect(bed.server.stats()).toMatchObject({ accepted: 1, refused: 2, connections: 1 });
    expect(bed.server.stats().services.map((service) => service.refused)).toEqual([1, 1]);
  });

  it('refuses an unknown service with ENXIO, and a connection to an address nobody listens on fails with ECONNREFUSED', async () => {
    bed = await memoryBed((server) => server.addService({ id: 1, name: 'echo', commands: {} }));
    await expect(bed.connect('nope')).rejects.toMatchObject({
      code: 'ENXIO',
      message: expect.stringContaining('"nope"'),
    });
    await expect(bed.connect(2)).rejects.toMatchObject({ code: 'ENXIO', message: expect.stringContaining('id 2') });
    const { poller, network } = bed;
    const nowhere = IpcClient.connect('nobody-here', { service: 1, poller, transport: new MemoryTransport(network) });
    const failure = await poller.settled(nowhere).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(IpcError);
    expect(failure).toMatchObject({ code: 'ECONNREFUSED' });
    expect(bed.server.stats()).toMatchObject({ accepted: 0, refused: 2, connections: 0 });
  });

  it('refuses a client of another protocol version with EPROTONOSUPPORT, naming both versions', async () => {
    bed = await memoryBed((server) => server.addService({ id: 1, name: 'echo', commands: {} }));
    const peer = await bed.raw();
    const future = encodeHello({
      version: PROTOCOL_VERSION + 1,
      maxFds: 0,
      maxMessage: 1024,
      serviceId: 1,
      serviceName: '',
    });
    peer.write(frame(FrameKind.Hello, 0, 0, future));
    const [refusal, ...rest] = frames(await peer.read());
    expect(rest).toEqual([]);
    expect(refusal!.kind).toBe(FrameKind.Refuse);
    const error = decodeError(refusal!.payload);
    expect(error.code).toBe('EPROTONOSUPPORT');
    expect(error.message).toContain(`version ${PROTOCOL_VERSION + 1}, server speaks ${PROTOCOL_VERSION}`);
    // Refused, then closed: the rest of the stream is its end.
    expect(peer.channel.read(Buffer.alloc(1), 0, 1)).toBe(0);
    expect(bed.server.stats()).toMatchObject({ refused: 1, connections: 0, protocolErrors: 0 });
  });

  it('closes a connection whose hello is garbage and counts a protocol error, serving the next client', async () => {
    bed = await memoryBed((server) =>
      server.addService({ id: 1, name: 'echo', commands: { 1: (payload) => payload } }),
    );
    const peer = await bed.raw();
    peer.write(frame(FrameKind.Hello, 0, 0, Buffer.from('GET / HTTP/1.1\r\n\r\n')));
    expect(await peer.read()).toEqual(Buffer.alloc(0));
    expect(peer.channel.read(Buffer.alloc(1), 0, 1)).toBe(0);
    expect(bed.server.stats()).toMatchObject({ protocolErrors: 1, connections: 0, closed: 1 });
    const client = await bed.connect('echo');
    const reply = client.request(1, Buffer.from('still serving'));
    await bed.poller.settle();
    expect((await reply).toString()).toBe('still serving');
  });

  it('closes a connection that sends a request before its hello', async () => {
    bed = await memoryBed((server) =>
      server.addService({ id: 1, name: 'echo', commands: { 1: (payload) => payload } }),
    );
    const peer = await bed.raw();
    peer.write(frame(FrameKind.Request, 1, 1));
    expect(await peer.read()).toEqual(Buffer.alloc(0));
    expect(bed.server.stats()).toMatchObject({ protocolErrors: 1, connections: 0 });
  });

  it('welcomes a hand-made hello with a welcome frame, and runs created before announcing the connection', async () => {
    const order: string[] = [];
    bed = await memoryBed((server) => {
      server.addService({ id: 3, name: 'greeter', commands: {}, created: () => order.push('created') });
      server.on('connection', () => order.push('connection'));
    });
    const peer = await bed.raw();
    peer.write(hello('greeter'));
    const [welcome] = frames(await peer.read());
    expect(welcome!.kind).toBe(FrameKind.Welcome);
    expect(order).toEqual(['created', 'connection']);
  });

  it('lets a client attach its listeners before it gets the events a created hook sent', async () => {
    bed = await memoryBed((server) =>
      server.addService({
        id: 1,
        name: 'greeter',
        commands: {},
        created: (connection) => connection.sendEvent(3, Buffer.from('welcome')),
      }),
    );
    const client = await bed.connect('greeter');
    const events: string[] = [];
    client.on('event', (event, payload) => events.push(`${event}:${payload.toString()}`));
    await bed.poller.settle();
    expect(events).toEqual(['3:welcome']);
  });
});
