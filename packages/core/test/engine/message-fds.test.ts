// Fds with messages through the engine, on the memory transport: each message gets exactly the
// fds sent with it, whatever the write sizes, and a transport without fd passing refuses them.
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { IpcError, type Connection } from '@pollux/core';
import { memoryBed, type MemoryBed } from './memory-bed.js';

let bed: MemoryBed | undefined;

afterEach(async () => {
  await bed?.teardown();
  bed = undefined;
});

describe('fds with messages on the memory transport', () => {
  it('pairs every request and response with its own fds, however the bytes are cut', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ fds: fc.nat(4), size: fc.nat(3000) }), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 16, max: 4096 }),
        async (messages, bufferSize) => {
          bed = await memoryBed(
            (server) =>
              server.addService({
                id: 1,
                name: 'fds',
                commands: {
                  // Answers with the files it got, and passes the same fds back.
                  1: (payload, connection, _command, fds) => {
                    const taken = fds.takeAll();
                    const files = taken.map((fd) => network().fileOf(fd));
                    try {
                      return connection.withFds(Buffer.from(JSON.stringify({ size: payload.length, files })), taken);
                    } finally {
                      for (const fd of taken) network().closeFd(fd);
                    }
                  },
                },
              }),
            { bufferSize, maxFdsPerMessage: 4 },
          );
          const network = () => bed!.network;
          const client = await bed.connect('fds');
          const sent = messages.map(({ fds, size }) => ({
            payload: Buffer.alloc(size, 7),
            fds: Array.from({ length: fds }, () => bed!.network.openFile()),
          }));
          const answers = sent.map(({ payload, fds }) => client.requestWithFds(1, payload, { fds }));
          const results = await bed.poller.settled(Promise.all(answers));
          results.forEach((result, at) => {
            const files = sent[at]!.fds.map((fd) => bed!.network.fileOf(fd));
            expect(JSON.parse(result.payload.toString())).toEqual({ size: sent[at]!.payload.length, files });
            expect(result.fds.map((fd) => bed!.network.fileOf(fd))).toEqual(files);
            for (const fd of result.fds) bed!.network.closeFd(fd);
          });
          for (const { fds } of sent) for (const fd of fds) bed.network.closeFd(fd);
          await bed.teardown();
          bed = undefined;
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a transport that cannot pass fds refuses them with ENOTSUP before anything is written', async () => {
    let connection: Connection<unknown> | undefined;
    bed = await memoryBed(
      (server) =>
        server.addService({
          id: 1,
          name: 'fds',
          commands: { 1: () => Buffer.from('ran') },
          created: (opened) => {
            connection = opened;
          },
        }),
      { maxFdsPerWrite: 0, maxFdsPerMessage: 4 },
    );
    const client = await bed.connect('fds');
    const file = bed.network.openFile();
    const refused = await bed.poller.settled(
      client.request(1, Buffer.alloc(0), { fds: [file] }).then(
        () => undefined,
        (error: unknown) => error,
      ),
    );
    expect(refused).toBeInstanceOf(IpcError);
    expect((refused as IpcError).code).toBe('ENOTSUP');
    expect(client.stats.requests).toBe(0);
    expect(() => connection!.sendEvent(1, Buffer.alloc(0), [file])).toThrowError(
      expect.objectContaining({ code: 'ENOTSUP' }),
    );
    expect(connection!.stats.events).toBe(0);
    bed.network.closeFd(file);
  });
});
