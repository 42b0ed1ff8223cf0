import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Connection, IpcError } from 'pollux';
import { openFdCount } from './support/fds.js';
import { frame, hello } from './support/frames.js';
import { rawSocket } from './support/raw-socket.js';
import { deferred, type TestServer } from './support/server.js';
import { transportMatrix, useBackends } from './support/backends.js';

// Raw clients never hand over a memfd, so over shared memory their connections stay on the socket
// inside the shared-memory channel: these test its socket stage (the hello, the fallback) on every
// poller. Hostile bytes in the rings are the fuzzer's, in transport-shm.test.ts.
describe.each(transportMatrix)('server on $server, clients on $client, over $transport', (pair) => {
  const { connectTo, startServerOn } = useBackends(pair);

  let fdsBefore: number;
  let running: TestServer;
  const ended: string[] = [];

  beforeEach(async () => {
    fdsBefore = openFdCount();
    ended.length = 0;
    running = await startServerOn(
      (server) =>
        server.addService({
          id: 1,
          name: 'echo',
          commands: { 1: (payload) => payload },
          closed: (_connection, reason) => ended.push((reason as IpcError).code),
        }),
      { handshakeTimeout: 150, maxMessageSize: 4096, sendQueueHighWater: 256 * 1024 },
    );
  });

  afterEach(async () => {
    // Whatever came before, the server still serves a well-behaved client.
    const client = await connectTo(running.address, 'echo');
    expect((await client.request(1, Buffer.from('still serving'))).toString()).toBe('still serving');
    await client.close();
    await running.stop();
    expect(openFdCount()).toBe(fdsBefore);
  });

  describe('hostile input', () => {
    it('closes a connection that sends garbage instead of a hello, and counts it', async () => {
      const raw = rawSocket(running.path);
      raw.socket.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      await raw.closed;
      expect(running.server.stats().protocolErrors).toBe(1);
    });

    it('closes a connection whose handshake is cut off by end of stream', async () => {
      const raw = rawSocket(running.path);
      raw.socket.end(hello(1).subarray(0, 17));
      await raw.closed;
      expect(running.server.stats()).toMatchObject({ protocolErrors: 1, accepted: 0 });
    });

    it('drops a client that starts a handshake and goes silent', async () => {
      const raw = rawSocket(running.path);
      raw.socket.write(hello(1).subarray(0, 10));
      await raw.closed;
      expect(running.server.stats()).toMatchObject({ connections: 0, accepted: 0 });
    });

    it('refuses an unknown protocol version with EPROTONOSUPPORT', async () => {
      const raw = rawSocket(running.path);
      raw.socket.write(hello(1, 2));
      await raw.closed;
      const reply = Buffer.concat(raw.received);
      expect(reply[4]).toBe(3); // a refusal frame
      expect(reply.toString('latin1', 13, 13 + reply[12]!)).toBe('EPROTONOSUPPORT');
    });

    it('closes an established connection on a frame with an oversize length, running closed', async () => {
      const raw = rawSocket(running.path);
      raw.socket.write(Buffer.concat([hello(1), frame(4, 1, 1, Buffer.alloc(0), 0xffffffff)]));
      await raw.closed;
      expect(ended).toEqual(['EMSGSIZE']);
      expect(running.server.stats().services[0]).toMatchObject({ protocolErrors: 1, closed: 1 });
    });

    it('closes on a frame kind a client may not send, and on a peer dying mid-frame', async () => {
      const wrongKind = rawSocket(running.path);
      wrongKind.socket.write(Buffer.concat([hello(1), frame(5, 0, 1, Buffer.from('a response?'))]));
      const midFrame = rawSocket(running.path);
      midFrame.socket.end(Buffer.concat([hello(1), frame(4, 1, 1, Buffer.alloc(100)).subarray(0, 50)]));
      await Promise.all([wrongKind.closed, midFrame.closed]);
      expect(ended.sort()).toEqual(['EPROTO', 'EPROTO']);
    });

    it('answers well-formed requests that arrive in the same read as the hello', async () => {
      const raw = rawSocket(running.path);
      const answered = deferred<void>();
      raw.socket.on('data', () => {
        if (Buffer.concat(raw.received).includes('pipelined')) answered.resolve();
      });
      raw.socket.write(Buffer.concat([hello(1), frame(4, 1, 42, Buffer.from('pipelined'))]));
      await answered.promise;
      raw.socket.destroy();
      await raw.closed;
    });

    it('stops reading a client that sends but never reads, serves others, and delivers everything once it reads', async () => {
      const requests = 3000;
      const raw = rawSocket(running.path);
      raw.socket.pause();
      const frames = [hello(1)];
      for (let i = 0; i < requests; i++) frames.push(frame(4, 1, i + 1, Buffer.alloc(1024, i & 0xff)));
      raw.socket.write(Buffer.concat(frames));
      // Others are served meanwhile. Each of their round trips is a turn of the server's loop in
      // which the stuck client would be read if the server still read it: once its count stops
      // moving for ten turns, the server has stopped reading it, short of all its requests.
      const other = await connectTo(running.address, 'echo');
      let stuckRead = -1;
      for (let turn = 1, still = 0; still < 10 && turn < 10_000; turn++) {
        expect((await other.request(1, Buffer.from(`turn ${turn}`))).toString()).toBe(`turn ${turn}`);
        const read = running.server.stats().services[0]!.requests - turn;
        still = read === stuckRead ? still + 1 : 0;
        stuckRead = read;
      }
      await other.close();
      expect(stuckRead).toBeGreaterThan(0);
      expect(stuckRead).toBeLessThan(requests);
      // Once it reads, every response arrives, in order, intact.
      const all = deferred<void>();
      let buffered = Buffer.alloc(0);
      let next = 1;
      raw.socket.on('data', (chunk) => {
        buffered = Buffer.concat([buffered, chunk]);
        while (buffered.length >= 12 && buffered.length >= 12 + buffered.readUInt32LE(0)) {
          const length = buffered.readUInt32LE(0);
          if (buffered[4] === 5) {
            expect(buffered.readUInt32LE(8)).toBe(next);
            expect(buffered.subarray(12, 12 + length).equals(Buffer.alloc(1024, (next - 1) & 0xff))).toBe(true);
            next++;
          }
          buffered = buffered.subarray(12 + length);
        }
        if (next > requests) all.resolve();
      });
      raw.socket.resume();
      await all.promise;
      raw.socket.destroy();
      await raw.closed;
    });

    it('refuses events with EAGAIN to a client that does not read them, instead of queueing without bound', async () => {
      const raw = rawSocket(running.path);
      raw.socket.pause();
      const opened = new Promise<Connection<unknown>>((resolve) => running.server.once('connection', resolve));
      raw.socket.write(hello(1));
      const connection = await opened;
      const event = Buffer.alloc(4096);
      let sent = 0;
      let failure: unknown;
      try {
        for (; sent < 100_000; sent++) connection.sendEvent(1, event);
      } catch (error) {
        failure = error;
      }
      expect(failure).toMatchObject({ code: 'EAGAIN' });
      // Bounded by twice the high-water mark (256 KiB here) plus what the kernel holds.
      expect(sent * event.length).toBeLessThan(8 * 1024 * 1024);
      raw.socket.destroy();
      await raw.closed;
    });

    it('survives random and mutated byte streams on many connections', async () => {
      const valid = Buffer.concat([
        hello(1),
        frame(4, 1, 1, Buffer.from('hello')),
        frame(4, 1, 2, Buffer.alloc(300, 7)),
      ]);
      const streamArb = fc.oneof(
        fc.uint8Array({ minLength: 1, maxLength: 600 }).map((bytes) => Buffer.from(bytes)),
        fc
          .array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 6 })
          .map((mutations) => {
            const bytes = Buffer.from(valid);
            for (const m of mutations) bytes[m.at % bytes.length] = m.value;
            return bytes;
          }),
        fc.nat({ max: valid.length }).map((cut) => valid.subarray(0, cut)),
      );
      await fc.assert(
        fc.asyncProperty(streamArb, async (bytes) => {
          const raw = rawSocket(running.path);
          await raw.connected;
          raw.socket.end(bytes);
          await raw.closed;
        }),
        { numRuns: 150 },
      );
      expect(running.server.stats().connections).toBe(0);
    });
  });
});
