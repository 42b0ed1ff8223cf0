// The example of examples/activation/: a service that exits once idle and is started again by
// socket activation, run for real under systemd-socket-activate (through activate.sh, which
// holds the socket across the service's lifetimes as systemd does).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from 'pollux';
import { describe, expect, it } from 'vitest';
import { openFdCount } from './support/fds.js';
import { bindNotifySocket } from './support/notify-socket.js';
import { scratchSocket, until } from './support/server.js';
import { skipWithoutSystemd } from './support/systemd.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

/** The greeter's answer: `hello <name>, from pid <pid>`; returns the pid. */
async function greeterPid(address: string, name: string): Promise<number> {
  const client = await connect(address, 'greeter', { retry: true });
  const answer = (await client.request(0, Buffer.from(name))).toString();
  await client.close();
  const match = /^hello (\S+), from pid (\d+)$/.exec(answer);
  expect(match?.[1]).toBe(name);
  return Number(match![2]);
}

describe('idle exit with socket activation (examples/activation)', () => {
  it.skipIf(skipWithoutSystemd)(
    'starts the greeter on the first client, lets it exit once idle, and starts it again for the next',
    async () => {
      const fdsBefore = openFdCount();
      const socket = scratchSocket();
      const notify = bindNotifySocket(join(socket.address, '..', 'notify.sock'));
      const activation = spawn(
        'examples/activation/activate.sh',
        [socket.address, process.execPath, '--import', 'tsx', 'examples/activation/greeter.ts', '200'],
        {
          cwd: repoRoot,
          stdio: ['ignore', 'ignore', 'inherit'],
          env: { ...process.env, NOTIFY_SOCKET: notify.address, SYSTEMD_LOG_LEVEL: 'warning' },
          // Its own process group, so that the test can stop the holder and the greeter together.
          detached: true,
        },
      );
      const ended = new Promise((resolve) => activation.once('exit', resolve));
      try {
        const first = await greeterPid(socket.address, 'first');
        expect(await notify.next()).toBe('READY=1\nSTATUS=Listening on systemd:greeter');
        // Idle for 200 ms: it closes itself, tells systemd, and its process ends.
        expect(await notify.next()).toBe('STOPPING=1\nSTATUS=Closing');
        await until(() => !existsSync(`/proc/${first}`));

        // The socket stayed with the holder: the next client starts a new greeter.
        const second = await greeterPid(socket.address, 'second');
        expect(second).not.toBe(first);
        expect(await notify.next()).toBe('READY=1\nSTATUS=Listening on systemd:greeter');
        expect(await notify.next()).toBe('STOPPING=1\nSTATUS=Closing');
        await until(() => !existsSync(`/proc/${second}`));
      } finally {
        process.kill(-activation.pid!, 'SIGTERM');
        await ended;
        notify.close();
        socket.remove();
      }
      expect(openFdCount()).toBe(fdsBefore);
    },
  );
});
