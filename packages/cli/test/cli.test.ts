import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, createServer, IpcError, type Connection, type IpcClient, type IpcServer } from 'pollux';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openFdCount } from '../../../test/support/fds.js';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));

interface Outcome {
  readonly status: number;
  readonly stdout: Buffer;
  readonly stderr: string;
}

/** Runs the `pollux` binary in its own process; the server stays on this process's loop meanwhile. */
function pollux(...args: string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', main, ...args], { encoding: 'buffer' }, (error, stdout, stderr) => {
      const status = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ status, stdout, stderr: stderr.toString() });
    });
  });
}

const json = (outcome: Outcome): unknown => JSON.parse(outcome.stdout.toString());

describe('the pollux command against a real server', () => {
  let dir: string;
  let address: string;
  let bare: string;
  let server: IpcServer;
  let plain: IpcServer;
  let held: IpcClient[];
  let paused!: Connection;
  let fdsBefore: number;

  beforeAll(async () => {
    fdsBefore = openFdCount();
    dir = mkdtempSync(join(tmpdir(), 'pollux-cli-'));
    address = join(dir, 'server.sock');
    bare = join(dir, 'bare.sock');
    server = createServer({ introspection: true });
    server.addService({
      id: 3,
      name: 'tools',
      commands: {
        0: (payload) => payload,
        1: () => {
          throw new IpcError('EPERM', 'tools says no');
        },
        2: () => new Promise<Uint8Array>(() => undefined),
      },
    });
    server.addService({ id: 4, name: 'locked', commands: {}, accept: () => false });
    server.on('connection', (connection) => {
      if (held !== undefined && held.length === 1) {
        paused = connection as Connection;
        paused.pauseRequests();
      }
    });
    await server.listen(address);
    held = [];
    held.push(await connect(address, 'tools'));
    held.push(await connect(address, 'tools'));
    await held[0]!.request(0, Buffer.from('warm'));
    plain = createServer();
    plain.addService({ id: 1, name: 'x', commands: {} });
    await plain.listen(bare);
  });

  afterAll(async () => {
    await Promise.all(held.map((client) => client.close({ timeout: 100 })));
    await Promise.all([server.destroy(), plain.close()]);
    rmSync(dir, { recursive: true, force: true });
    // Every connection the commands made was closed on the server's side too.
    expect(openFdCount()).toBe(fdsBefore);
  });

  it('status prints the server and per-service counters, as a table or JSON', async () => {
    const text = await pollux('status', address);
    expect(text.status).toBe(0);
    const lines = text.stdout.toString().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^server ${address}: 3 connections open, 3 accepted`));
    expect(lines[2]).toMatch(/^SERVICE\s+ID\s+CONNS\s+ACCEPTED/);
    expect(lines.find((line) => line.startsWith('tools'))).toMatch(/^tools\s+3\s+2\s+2\s+0\s+0\s+1\s/);
    const stats = json(await pollux('status', address, '--json')) as {
      connections: number;
      services: { name: string; requests: number }[];
    };
    expect(stats.connections).toBe(3);
    expect(stats.services.find((service) => service.name === 'tools')?.requests).toBe(1);
  });

  it('connections lists each client with pid, uid, queued bytes and paused state, like ss -x', async () => {
    const text = await pollux('connections', address);
    expect(text.status).toBe(0);
    const rows = text.stdout.toString().trimEnd().split('\n');
    expect(rows[0]).toMatch(/^ID\s+SERVICE\s+PID\s+UID\s+GID\s+QUEUED\s+IN FLIGHT\s+PAUSED/);
    const tools = rows.filter((row) => /^\d+\s+tools\s/.test(row));
    expect(tools).toHaveLength(2);
    for (const row of tools) expect(row.split(/\s+/)[2]).toBe(String(process.pid));
    expect(tools.map((row) => row.split(/\s+/)[7]).sort()).toEqual(['no', 'yes']);
    const list = json(await pollux('connections', address, '--json')) as {
      id: number;
      credentials: { pid: number; uid: number };
      stats: { readPaused: boolean };
    }[];
    expect(list.find((entry) => entry.id === paused.id)).toMatchObject({
      credentials: { pid: process.pid, uid: process.getuid!() },
      stats: { readPaused: true },
    });
  });

  it('call sends UTF-8, hex or a file and writes the response bytes as they are', async () => {
    expect((await pollux('call', address, 'tools', '0', 'héllo')).stdout.toString()).toBe('héllo');
    expect([...(await pollux('call', address, '3', '0', '--hex', '00 ff 7f')).stdout]).toEqual([0, 0xff, 0x7f]);
    const file = join(dir, 'payload.bin');
    writeFileSync(file, Buffer.from([1, 2, 3]));
    expect([...(await pollux('call', address, 'tools', '0', '--file', file)).stdout]).toEqual([1, 2, 3]);
    expect(json(await pollux('call', address, 'tools', '0', '--hex', 'c3', '--json'))).toEqual({
      ok: true,
      bytes: 1,
      hex: 'c3',
      utf8: null,
    });
  });

  it('exits with the documented status for each kind of failure', async () => {
    const remote = await pollux('call', address, 'tools', '1', '--json');
    expect([remote.status, json(remote)]).toEqual([
      1,
      { ok: false, code: 'EPERM', message: 'tools command 1 answered EPERM: tools says no' },
    ]);
    expect((await pollux('call', address, 'tools', '9')).status).toBe(1);
    expect((await pollux('call', address, 'nothing', '0')).status).toBe(69);
    expect((await pollux('call', join(dir, 'absent.sock'), 'tools', '0')).status).toBe(69);
    expect((await pollux('status', bare)).status).toBe(69);
    expect((await pollux('call', address, 'locked', '0')).status).toBe(77);
    expect((await pollux('call', address, 'tools', '2', '--timeout', '200')).status).toBe(75);
    expect((await pollux('call', address, 'tools', '0', '--file', join(dir, 'missing'))).status).toBe(66);
    for (const usage of [
      ['status'],
      ['frobnicate', address],
      ['call', address, 'tools', '70000'],
      ['call', address, 'tools', '0', '--hex', 'xyz'],
      ['status', address, '--nope'],
    ]) {
      const outcome = await pollux(...usage);
      expect(outcome.status, usage.join(' ')).toBe(64);
      expect(outcome.stderr).toContain("Try 'pollux --help'");
    }
  });

  it('watch refreshes a given number of times, with per-service rates', async () => {
    const outcome = await pollux('watch', address, '--count', '2', '--interval', '50', '--json');
    expect(outcome.status).toBe(0);
    const frames = outcome.stdout
      .toString()
      .trimEnd()
      .split('\n')
      .map(
        (line) =>
          JSON.parse(line) as {
            stats: { connections: number };
            connections: unknown[];
            rates: Record<string, unknown>;
          },
      );
    expect(frames).toHaveLength(2);
    expect(frames[0]!.rates).toEqual({});
    expect(Object.keys(frames[1]!.rates)).toContain('3');
    const text = await pollux('watch', address, '--count', '2', '--interval', '50');
    expect(text.stdout.toString().match(/^SERVICE .*REQ\/S\s+EV\/S$/gm)).toHaveLength(2);
  });

  it('prints a manual page with --help', async () => {
    const help = await pollux('--help');
    expect(help.status).toBe(0);
    for (const section of ['NAME', 'SYNOPSIS', 'COMMANDS', 'OPTIONS', 'EXIT STATUS', 'EXAMPLES'])
      expect(help.stdout.toString()).toMatch(new RegExp(`^${section}$`, 'm'));
  });
});
