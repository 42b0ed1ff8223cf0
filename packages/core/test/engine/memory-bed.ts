// A server and its clients on one in-memory network and one manual poller, for the engine's unit tests.
import { expect } from 'vitest';
import { IpcClient, IpcServer, type Credentials, type IpcClientOptions, type IpcServerOptions } from '@pollux/core';
import { ManualPoller, MemoryNetwork, MemoryTransport, type MemoryChannel } from '@pollux/core/testing';
import { FrameKind, HEADER_SIZE, writeHeader } from '../../src/protocol/frame.js';
import { helloFor } from '../../src/protocol/handshake.js';

export const ADDRESS = 'memory-server';

/** Everything one test runs on. */
export interface MemoryBed {
  readonly network: MemoryNetwork;
  readonly poller: ManualPoller;
  readonly server: IpcServer;
  /** Connects an {@link IpcClient} as a process with `credentials`, settling until it is connected. */
  connect(
    service: number | string,
    options?: Partial<IpcClientOptions>,
    credentials?: Partial<Credentials>,
  ): Promise<IpcClient>;
  /** Connects a bare channel that the test reads and writes by hand, as a hostile or broken peer would. */
  raw(credentials?: Partial<Credentials>): Promise<RawPeer>;
  /** Closes every client and the server, and checks that no fake fd and no registration is left. */
  teardown(): Promise<void>;
}

/** A peer the test drives by hand. */
export interface RawPeer {
  readonly channel: MemoryChannel;
  /** Writes `bytes` whole (they must fit the buffer). */
  write(bytes: Uint8Array): void;
  /** Everything the server sent so far, after settling. */
  read(): Promise<Buffer>;
}

/** Builds a frame by hand. */
export function frame(kind: number, code: number, id: number, payload: Uint8Array = new Uint8Array(0)): Buffer {
  const out = Buffer.alloc(HEADER_SIZE + payload.length);
  writeHeader(out, 0, payload.length, kind, code, id, 0);
  out.set(payload, HEADER_SIZE);
  return out;
}

/** The hello an {@link IpcClient} sends for `service`. */
export function hello(service: number | string, maxMessage = 1 << 20): Buffer {
  return frame(FrameKind.Hello, 0, 0, helloFor(service, maxMessage, 0));
}

/** Splits what a server sent into frames: kind, code, id and payload. */
export function frames(bytes: Buffer): { kind: number; code: number; id: number; payload: Buffer }[] {
  const out = [];
  for (let at = 0; at + HEADER_SIZE <= bytes.length; ) {
    const length = bytes.readUInt32LE(at);
    out.push({
      kind: bytes[at + 4]!,
      code: bytes.readUInt16LE(at + 6),
      id: bytes.readUInt32LE(at + 8),
      payload: bytes.subarray(at + HEADER_SIZE, at + HEADER_SIZE + length),
    });
    at += HEADER_SIZE + length;
  }
  return out;
}

/** A 4-byte payload carrying `value`, to tell requests and their answers apart. */
export function u32(value: number): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt32LE(value);
  return payload;
}

/** A promise and its resolve function, for handlers the test completes by hand. */
export function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Starts a server listening at {@link ADDRESS}; `configure` adds its services. */
export async function memoryBed(
  configure: (server: IpcServer) => void,
  options: Partial<IpcServerOptions> & { bufferSize?: number; maxFdsPerWrite?: number } = {},
): Promise<MemoryBed> {
  const { bufferSize, maxFdsPerWrite, ...serverOptions } = options;
  const network = new MemoryNetwork({
    ...(bufferSize === undefined ? {} : { bufferSize }),
    ...(maxFdsPerWrite === undefined ? {} : { maxFdsPerWrite }),
  });
  const poller = new ManualPoller(network);
  const server = new IpcServer({
    poller,
    transport: new MemoryTransport(network, { uid: 0, gid: 0 }),
    ...serverOptions,
  });
  configure(server);
  await server.listen(ADDRESS);
  const clients: IpcClient[] = [];
  const raws: MemoryChannel[] = [];
  return {
    network,
    poller,
    server,
    async connect(service, clientOptions = {}, credentials = {}) {
      const transport = new MemoryTransport(network, credentials);
      const client = await poller.settled(IpcClient.connect(ADDRESS, { service, poller, transport, ...clientOptions }));
      clients.push(client);
      return client;
    },
    async raw(credentials = {}) {
      const channel = await new MemoryTransport(network, credentials).connect(ADDRESS);
      raws.push(channel);
      return {
        channel,
        write(bytes) {
          expect(channel.writev([bytes], 1)).toBe(bytes.length);
        },
        async read() {
          await poller.settle();
          const chunks: Buffer[] = [];
          const buffer = Buffer.alloc(64 * 1024);
          for (let n = channel.read(buffer, 0, buffer.length); n > 0; n = channel.read(buffer, 0, buffer.length))
            chunks.push(Buffer.from(buffer.subarray(0, n)));
          return Buffer.concat(chunks);
        },
      };
    },
    async teardown() {
      for (const client of clients) client.destroy();
      for (const channel of raws) channel.close();
      const closed = server.destroy();
      await poller.settle();
      await closed;
      expect(poller.watchedFds).toEqual([]);
      expect(network.openFds).toBe(0);
    },
  };
}
