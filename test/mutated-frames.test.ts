import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { openFdCount } from './support/fds.js';
import { expectedOutcome } from './support/frame-oracle.js';
import { frame, hello } from './support/frames.js';
import { rawSocket } from './support/raw-socket.js';
import { until } from './support/server.js';
import { backendMatrix, useBackends } from './support/backends.js';

const MAX_MESSAGE = 4096;

/** A valid stream as frames: a hello (by id or by name), requests, sometimes a goodbye. */
const validFrames: fc.Arbitrary<Buffer[]> = fc
  .tuple(
    fc.oneof(
      fc.constant(hello(1)),
      fc.constant(hello(0xffffffff, 1, 'echo')),
      fc.integer({ min: 0, max: 2 * MAX_MESSAGE }).map((maxMessage) => hello(1, 1, '', maxMessage)),
    ),
    fc.array(
      fc
        .record({ command: fc.nat(0xffff), id: fc.nat(), payload: fc.uint8Array({ maxLength: 600 }) })
        .map((r) => frame(4, r.command, r.id, Buffer.from(r.payload))),
      { maxLength: 5 },
    ),
    fc.boolean(),
  )
  .map(([greeting, requests, goodbye]) => [greeting, ...requests, ...(goodbye ? [frame(8, 0, 0)] : [])]);

/** Changes to one frame's header: its length, kind, flags or id. */
const headerChange = fc.oneof(
  fc.record({ offset: fc.constant(0), value: fc.oneof(fc.nat(), fc.nat(2 * MAX_MESSAGE)), width: fc.constant(4) }),
  fc.record({ offset: fc.constant(4), value: fc.nat(255), width: fc.constant(1) }),
  fc.record({ offset: fc.constant(5), value: fc.nat(255), width: fc.constant(1) }),
  fc.record({ offset: fc.constant(8), value: fc.nat(), width: fc.constant(4) }),
);

/** Changes to the whole byte stream. */
type ByteChange =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'splice'; from: number; to: number; at: number }
  | { kind: 'garbage'; at: number; bytes: Uint8Array };
const byteChange: fc.Arbitrary<ByteChange> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('splice' as const), from: fc.nat(), to: fc.nat(), at: fc.nat() }),
  fc.record({
    kind: fc.constant('garbage' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 40 }),
  }),
);

function applyByteChange(stream: Buffer, change: ByteChange): Buffer {
  const at = change.at % (stream.length + 1);
  switch (change.kind) {
    case 'flip': {
      if (stream.length === 0) return stream;
      const out = Buffer.from(stream);
      out[at % stream.length]! ^= 1 << change.bit;
      return out;
    }
    case 'truncate':
      return stream.subarray(0, at);
    case 'splice': {
      // A piece of the stream repeated elsewhere: frames that are valid, in the wrong place.
      const from = change.from % (stream.length + 1);
      const piece = stream.subarray(from, from + (change.to % 64));
      return Buffer.concat([stream.subarray(0, at), piece, stream.subarray(at)]);
    }
    case 'garbage':
      return Buffer.concat([stream.subarray(0, at), change.bytes, stream.subarray(at)]);
  }
}

/** Valid streams, each mutated by header changes to chosen frames and changes to its bytes. */
const mutatedStream: fc.Arbitrary<Buffer> = fc
  .tuple(
    validFrames,
    fc.array(fc.tuple(fc.nat(), headerChange), { maxLength: 2 }),
    fc.array(byteChange, { maxLength: 3 }),
  )
  .map(([frames, headerChanges, byteChanges]) => {
    const copies = frames.map((f) => Buffer.from(f));
    for (const [index, change] of headerChanges) {
      const target = copies[index % copies.length]!;
      if (change.width === 4) target.writeUInt32LE(change.value >>> 0, change.offset);
      else target[change.offset] = change.value;
    }
    return byteChanges.reduce(applyByteChange, Buffer.concat(copies));
  });

const anyStream = fc.oneof(
  { weight: 1, arbitrary: validFrames.map((frames) => Buffer.concat(frames)) },
  { weight: 6, arbitrary: mutatedStream },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)) },
);

describe.each(backendMatrix)('server on $server, clients on $client', (pair) => {
  const { connectTo, startServerOn } = useBackends(pair);

  it('closes and counts each peer that breaks the protocol, handles what came before, and keeps serving', async () => {
    const fdsBefore = openFdCount();
    const running = await startServerOn(
      (server) => server.addService({ id: 1, name: 'echo', commands: { 1: (payload) => payload } }),
      { maxMessageSize: MAX_MESSAGE },
    );
    const server = running.server;
    const fdsListening = openFdCount();
    await fc.assert(
      fc.asyncProperty(anyStream, async (stream) => {
        const before = server.stats();
        const raw = rawSocket(running.address);
        await raw.connected;
        raw.socket.end(stream);
        await raw.closed;
        const expected = expectedOutcome(stream, MAX_MESSAGE);
        const after = server.stats();
        expect({
          protocolError: after.protocolErrors - before.protocolErrors === 1,
          accepted: after.accepted - before.accepted === 1,
          requests: after.services[0]!.requests - before.services[0]!.requests,
        }).toEqual(expected);
        expect(after.protocolErrors - before.protocolErrors).toBeLessThanOrEqual(1);
        // A normal client is still served.
        const client = await connectTo(running.address, 'echo');
        expect((await client.request(1, Buffer.from('still serving'))).toString()).toBe('still serving');
        await client.close();
        // The server's end of that client closes once it has read the goodbye.
        await until(() => server.stats().connections === 0);
        expect(openFdCount()).toBe(fdsListening);
      }),
      { numRuns: 250 },
    );
    await running.stop();
    expect(openFdCount()).toBe(fdsBefore);
  });
});
