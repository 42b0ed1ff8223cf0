import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PeerMessage } from './support/peer.js';
import { procStatusBytes } from './support/proc-status.js';
import { stoppedClientProcess } from './support/stalled-client.js';
import { serverTransportMatrix, useBackends } from './support/backends.js';

const PUSH_BYTES = 100 * 1024 * 1024;
const EVENT_SIZE = 64 * 1024;
/**
 * Peak RSS growth allowed while 100 MiB are pushed: the send queue may hold twice its 4 MiB
 * high-water mark, plus the collector's slack. A server that queued everything grows by ~80 MiB.
 */
const RSS_GROWTH_LIMIT = 32 * 1024 * 1024;

/**
 * What the server does with events for a client that does not read them: one line per policy,
 * server options passed straight to the fixture, and what its service must have seen.
 */
const policies: {
  name: string;
  serverOptions: Record<string, unknown>;
  /** Why the connection ended, in the service's `closed` hook. */
  closedBy: string;
  check(outcomes: Record<string, number>, offered: number): void;
}[] = [
  {
    name: 'refuse each event with EAGAIN',
    serverOptions: {},
    closedBy: 'ECONNRESET',
    check(outcomes, offered) {
      expect(offered).toBe(PUSH_BYTES);
      expect(Object.keys(outcomes).sort()).toEqual(['EAGAIN', 'sent']);
      expect(outcomes['EAGAIN']).toBeGreaterThan(0);
      // Never more accepted than the queue limit (2 × 4 MiB) plus what the kernel holds.
      expect(outcomes['sent']! * EVENT_SIZE).toBeLessThan(16 * 1024 * 1024);
    },
  },
  {
    name: 'drop the client that does not read',
    serverOptions: { onEventQueueFull: 'disconnect' },
    closedBy: 'ENOBUFS',
    check(outcomes, offered) {
      // Dropped at the bound: nothing refused, the rest of that turn finds the connection gone.
      expect(offered).toBeLessThan(PUSH_BYTES);
      expect(outcomes['EAGAIN']).toBeUndefined();
      expect(outcomes['sent']! * EVENT_SIZE).toBeLessThan(16 * 1024 * 1024);
    },
  },
];

describe.each(serverTransportMatrix)('server on $server, over $transport', (pair) => {
  const backends = useBackends(pair);
  const { spawnFixture } = backends;

  it.each(policies)(
    'keeps its memory bounded while pushing 100 MiB at a client that never reads: $name',
    async (policy) => {
      const dir = mkdtempSync(join(tmpdir(), 'pollux-test-'));
      const address = backends.address(join(dir, 'server.sock'));
      try {
        const server = spawnFixture(
          'event-server',
          [address, String(PUSH_BYTES), String(EVENT_SIZE), JSON.stringify(policy.serverOptions)],
          { stdin: true },
        );
        await server.next('listening');
        const rssBefore = procStatusBytes(server.pid, 'VmRSS');
        // The client completes the handshake, then never reads again: it is stopped before the push.
        const client = await stoppedClientProcess(backends, address, 'events');
        server.child.stdin!.write('push\n');
        const pushed: PeerMessage = await server.next('pushed');
        const peakGrowth = procStatusBytes(server.pid, 'VmHWM') - rssBefore;
        policy.check(pushed['outcomes'] as Record<string, number>, pushed['offered'] as number);
        expect(peakGrowth, `peak RSS grew by ${peakGrowth} bytes`).toBeLessThan(RSS_GROWTH_LIMIT);
        client.child.kill('SIGKILL');
        const [, closed] = await Promise.all([client.exited, server.next('closed')]);
        expect(closed['reason']).toBe(policy.closedBy);
        expect((await server.exited).code).toBe(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
