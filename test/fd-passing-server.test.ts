// A hostile peer sends fds to a pollux server that takes none: the server must not keep them.
import * as sys from '@pollux/sys';
import { afterEach, describe, expect, it } from 'vitest';
import { serverBackendMatrix, useBackends } from './support/backends.js';
import { openFdCount } from './support/fds.js';
import { hello } from './support/frames.js';
import { until, type TestServer } from './support/server.js';

describe.each(serverBackendMatrix)('server on $server', (pair) => {
  const { startServerOn } = useBackends(pair);
  let running: TestServer | undefined;

  afterEach(async () => {
    await running?.stop();
    running = undefined;
  });

  it('releases 200 fds a raw client sends with its hello: the fd count returns to baseline', async () => {
    running = await startServerOn((server) =>
      server.addService({ id: 1, name: 'echo', commands: { 1: (payload) => payload } }),
    );
    const { server } = running;
    const baseline = openFdCount();
    const [probe, passed] = sys.socketpair();
    const raw = sys.socketUnix();
    try {
      expect(sys.connectUnix(raw, running.address, false)).toBe(0);
      const frame = hello(1);
      expect(
        sys.sendmsg(
          raw,
          [frame],
          1,
          Array.from({ length: 200 }, () => passed),
        ),
      ).toBe(frame.length);
      sys.close(passed);
      // The bytes in flight are all that still hold `passed` open.
      expect(sys.read(probe, Buffer.alloc(1), 0, 1)).toBe(-11);

      const reply = Buffer.alloc(64);
      let n = 0;
      await until(() => (n = sys.read(raw, reply, 0, reply.length)) > 0);
      expect(reply[4]).toBe(2); // a welcome: the server read the hello and the bytes that carried the fds
      // No copy of `passed` is left, in the server's fd table or anywhere else: its peer sees the end.
      expect(sys.read(probe, Buffer.alloc(1), 0, 1)).toBe(0);
      // Ours (raw socket, probe) and the server's end of the connection, nothing more.
      expect(openFdCount()).toBe(baseline + 3);
    } finally {
      sys.close(raw);
      sys.close(probe);
    }
    await until(() => server.stats().connections === 0);
    expect(openFdCount()).toBe(baseline);
  });
});
