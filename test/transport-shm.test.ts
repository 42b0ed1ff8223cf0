import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ShmTransport, type Connection, type IpcClient } from 'pollux';
import { memfdMappingCount, openFdCount } from './support/fds.js';
import { deferred, until } from './support/server.js';
import { shmBackendMatrix, useBackends } from './support/backends.js';
import { useTestResources } from './support/test-resources.js';

/** What only shared memory has: who maps what when, and what a hostile client can do to it. */
describe.each(shmBackendMatrix)('shared memory, server on $server, clients on $client', (pair) => {
  const backends = useBackends(pair);
  const { connectTo, startServerOn, spawnFixture, listenOn } = backends;

  const resources = useTestResources();

  it('lets the accept hook refuse a client of another uid before any memory is made or mapped for it', async () => {
    const mappingsBefore = memfdMappingCount();
    const mapped: number[] = [];
    resources.running = await startServerOn(
      (server) =>
        server.addService({
          id: 1,
          name: 'root-only',
          accept: (credentials) => {
            mapped.push(memfdMappingCount());
            return credentials.uid === 0;
          },
          commands: {},
        }),
      { socket: { mode: 0o777 } },
    );
    const refused = spawnFixture('client', ['connect', resources.running.address, 'root-only'], {
      uid: 65534,
      gid: 65534,
    });
    expect(await refused.next('refused')).toMatchObject({ code: 'EACCES', isIpcError: true });
    await refused.exited;
    // Nothing was mapped when the hook ran, and nothing since: the refusal went over the socket.
    expect(mapped).toEqual([mappingsBefore]);
    expect(memfdMappingCount()).toBe(mappingsBefore);
    expect(resources.running.server.stats()).toMatchObject({ refused: 1, accepted: 0 });
  });

  it('survives a hostile client scribbling over its own memory while serving a good one, and counts it', async () => {
    resources.running = await startServerOn((server) =>
      server.addService({ id: 1, name: 'echo', commands: { 1: (payload) => payload } }),
    );
    const fdsListening = openFdCount();
    const good: IpcClient = await connectTo(resources.running.address, 'echo');
    const path = resources.running.address.slice('shm:'.length);
    // 14 rounds: each of the 7 kinds of broken set-up once, and 7 connections scribbled over.
    const hostile = spawnFixture('shm-hostile-client', [path, '14', String(Date.now() & 0xffff)]);
    const finished = deferred<void>();
    let served = 0;
    const serving = (async () => {
      let done = false;
      void finished.promise.then(() => {
        done = true;
      });
      while (!done) {
        const payload = randomBytes(1 + (served % 3000));
        const answer = await good.request(1, payload);
        expect(Buffer.from(answer).equals(payload)).toBe(true);
        served++;
      }
    })();
    const report = (await hostile.next('done')) as unknown as {
      refusedSetUps: number;
      scribbled: { closed: boolean; reopenRefused: boolean; writableMapRefused: boolean; closedWordSet: boolean }[];
    };
    finished.resolve();
    await serving;
    await hostile.exited;
    const server = resources.running.server;
    // Every hostile connection ends on the server (a leak would hang here), the good one stays.
    await until(() => server.stats().connections === 1);
    // Every broken set-up and every scribbled connection was closed by the server, and counted as
    // a protocol error unless its scribbles set its closed word: that reads as an honest close.
    expect(report.refusedSetUps).toBe(7);
    expect(report.scribbled).toHaveLength(7);
    for (const outcome of report.scribbled) {
      expect(outcome).toEqual({
        closed: true,
        reopenRefused: true,
        writableMapRefused: true,
        closedWordSet: expect.any(Boolean),
        steps: expect.any(Number),
      });
    }
    const honestCloses = report.scribbled.filter((outcome) => outcome.closedWordSet).length;
    expect(server.stats().protocolErrors).toBeGreaterThanOrEqual(14 - honestCloses);
    expect(server.stats().protocolErrors).toBeLessThanOrEqual(14);
    expect(served).toBeGreaterThan(0);
    // The good client was served all along and still is.
    expect((await good.request(1, Buffer.from('still here'))).toString()).toBe('still here');
    await good.close();
    await until(() => server.stats().connections === 0);
    expect(openFdCount()).toBe(fdsListening);
  });

  it('refuses a shared-memory client of a server on plain sockets at once, and serves plain clients of a shared-memory one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pollux-test-'));
    const fdsBefore = openFdCount();
    const echo = { id: 1, name: 'echo', commands: { 1: (payload: Buffer) => payload } };
    try {
      const plain = await listenOn(join(dir, 'plain.sock'), (server) => server.addService(echo));
      // Without the offer the server would read the client's switch byte as the start of a frame,
      // and the client wait for ever for answers to requests written into its ring.
      const refused = connectTo(`shm:${join(dir, 'plain.sock')}`, 'echo');
      await expect(refused).rejects.toMatchObject({
        code: 'ECONNRESET',
        message: expect.stringContaining('a server on plain sockets'),
      });
      await until(() => plain.stats().connections === 0);
      expect(plain.stats().protocolErrors).toBe(1);
      const socketClient = await connectTo(join(dir, 'plain.sock'), 'echo');
      expect((await socketClient.request(1, Buffer.alloc(4096, 1))).length).toBe(4096);
      await socketClient.close();
      await plain.close();

      const shm = await listenOn(`shm:${join(dir, 'shm.sock')}`, (server) => server.addService(echo));
      const stayingOnTheSocket = await connectTo(join(dir, 'shm.sock'), 'echo');
      const big = randomBytes(64 * 1024);
      expect((await stayingOnTheSocket.request(1, big)).equals(big)).toBe(true);
      await stayingOnTheSocket.close();
      await shm.close();
      expect(openFdCount()).toBe(fdsBefore);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serves pipelined requests and events with views lent on both sides', async () => {
    let connection: Connection<unknown> | undefined;
    resources.running = await startServerOn(
      (server) =>
        server.addService({
          id: 1,
          name: 'echo',
          created: (c) => {
            connection = c;
          },
          commands: { 1: (payload) => payload },
        }),
      { shm: { lendViews: true } },
    );
    const client = await connectTo(resources.running.address.slice('shm:'.length), 'echo', {
      transport: new ShmTransport({ lendViews: true }),
    });
    const events: string[] = [];
    client.on('event', (_event, payload) => events.push(payload.toString()));
    for (let round = 0; round < 3; round++) {
      const payloads = Array.from({ length: 100 }, (_, i) => randomBytes(i * 37));
      const answers = await Promise.all(payloads.map((payload) => client.request(1, payload)));
      expect(answers.map((answer, i) => answer.equals(payloads[i]!))).not.toContain(false);
      connection!.sendEvent(2, Buffer.from(`round ${round}`));
    }
    await until(() => events.length === 3);
    expect(events).toEqual(['round 0', 'round 1', 'round 2']);
    await client.close();
  });

  it('holds a fast writer back while a slow reader catches up, losing nothing', async () => {
    const release = deferred<void>();
    let running_ = 0;
    let mostRunning = 0;
    resources.running = await startServerOn(
      (server) =>
        server.addService({
          id: 1,
          name: 'sink',
          commands: {
            // Nothing is answered until released: the server stops reading at its budget and the ring fills.
            // A payload is a view of the client's ring only until the handler returns: copy what is kept.
            1: async (payload) => {
              const head = Buffer.from(payload.subarray(0, 8));
              mostRunning = Math.max(mostRunning, ++running_);
              await release.promise;
              running_--;
              return head;
            },
          },
        }),
      { maxMessageSize: 16 * 1024, maxBufferedBytesPerConnection: 64 * 1024, shm: { ringBytes: 4096 } },
    );
    const path = resources.running.address.slice('shm:'.length);
    const client = await connectTo(path, 'sink', {
      transport: new ShmTransport({ ringBytes: 4096 }),
      sendQueueHighWater: 32 * 1024,
    });
    let flowControlled = false;
    client.on('flowControl', (on: boolean) => {
      flowControlled ||= on;
    });
    const payloads = Array.from({ length: 200 }, (_, i) => Buffer.alloc(2000, i));
    const answers = payloads.map((payload) => client.request(1, payload));
    // The server stops reading at its budget, the ring fills, and the client's queue grows past its mark.
    await until(() => flowControlled);
    expect(mostRunning * 2000).toBeLessThanOrEqual(64 * 1024);
    release.resolve();
    const results = await Promise.all(answers);
    expect(results.map((answer) => Buffer.from(answer).toString('hex'))).toEqual(
      payloads.map((payload) => payload.subarray(0, 8).toString('hex')),
    );
    await client.close();
  });

  describe('with spinMicros on both sides', () => {
    /** Long enough for an answer on an idle machine, so reads follow one another without a wake-up. */
    const SPIN = { spinMicros: 100 };

    it('hands every request and event over once and in order, and timers fire while a client chains requests', async () => {
      // A server in a process of its own, so that answers can come while this one spins.
      const dir = mkdtempSync(join(tmpdir(), 'pollux-test-'));
      const address = backends.address(join(dir, 'server.sock'));
      const serverPeer = spawnFixture('server', [address, String(SPIN.spinMicros)]);
      try {
        await serverPeer.next('listening');
        const client = await connectTo(address.slice('shm:'.length), 'echo', { transport: new ShmTransport(SPIN) });
        const events: number[] = [];
        client.on('event', (_event, payload) => events.push(payload.readUInt32LE(0)));
        let next = 0;
        const request = async (): Promise<void> => {
          const seq = next++;
          const payload = randomBytes(4 + (seq % 300));
          payload.writeUInt32LE(seq, 0);
          expect((await client.request(3, payload)).equals(payload)).toBe(true);
        };
        // Pipelined: each answer's continuation sends the next request, 16 in flight.
        await Promise.all(
          Array.from({ length: 16 }, async () => {
            while (next < 2000) await request();
          }),
        );
        // One at a time: a client that read each answer in the flush of its request would never
        // return to the loop, and the timer would fire only after the last answer.
        const chained = 3000;
        let answeredWhenFired = -1;
        backends.clientPoller().timer(0, () => {
          answeredWhenFired = next - 2000;
        });
        while (next < 2000 + chained) await request();
        expect(answeredWhenFired).toBeGreaterThanOrEqual(0);
        expect(answeredWhenFired).toBeLessThan(chained);
        await until(() => events.length === next / 10);
        expect(events).toEqual(Array.from({ length: next / 10 }, (_, i) => i * 10));
        // A server that dies while the client waits for its answer: the request fails, once.
        const closes: unknown[] = [];
        client.on('close', (reason) => closes.push(reason));
        const stranded = client.request(2).catch((error: unknown) => error);
        await client.request(3, Buffer.from(Uint32Array.of(next++).buffer));
        serverPeer.child.kill('SIGKILL');
        expect(await stranded).toMatchObject({ code: 'ECONNRESET' });
        await until(() => closes.length > 0);
        expect(closes).toHaveLength(1);
        expect(client.isOpen).toBe(false);
      } finally {
        serverPeer.child.kill('SIGKILL');
        await serverPeer.exited;
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('notices a client killed while the server spins: closed runs once, nothing leaks', async () => {
      let closed = 0;
      resources.running = await startServerOn(
        (server) =>
          server.addService({
            id: 1,
            name: 'echo',
            closed: () => closed++,
            commands: { 1: (payload) => payload },
          }),
        { shm: SPIN },
      );
      const fdsListening = openFdCount();
      const server = resources.running.server;
      for (let round = 0; round < 3; round++) {
        const pipeline = spawnFixture('pipeline', [
          resources.running.address,
          String(1 + round * 31),
          '200',
          String(round),
        ]);
        await pipeline.next('acked');
        pipeline.child.kill('SIGKILL');
        await pipeline.exited;
        await until(() => server.stats().connections === 0);
        expect(closed).toBe(round + 1);
      }
      expect(openFdCount()).toBe(fdsListening);
    });
  });
});
