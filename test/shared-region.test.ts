// Read-only shared regions across real processes: a writer that updates a 64-byte record as fast
// as it can, readers that must never see it torn, a writer killed with kill -9, and readers (one
// as uid 65534) that try every way to write what they were only meant to read.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  openRegion,
  publishRegion,
  REGION_SERVICE_NAME,
  SharedRegion,
  SharedRegionView,
  unpublishRegion,
} from '@pollux/shared-region';
import { connect, IpcError } from 'pollux';
import { close, recvmsg, socketpair } from '@pollux/sys';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openFdCount } from './support/fds.js';
import { spawnPeer, type Peer } from './support/peer.js';
import { startServer } from './support/server.js';

let fdBaseline = 0;
beforeEach(() => {
  fdBaseline = openFdCount();
});
afterEach(() => {
  expect(openFdCount(), 'fds leaked by this test').toBe(fdBaseline);
});

/** What each way a reader tries to write a sealed region gets (the region-reader fixture's `attack`). */
const WRITES_REFUSED = {
  mmapWritable: 'EPERM',
  write: 'EPERM',
  truncate: 'EPERM',
  grow: 'EPERM',
  addSeal: 'EPERM',
  // A memfd's inode is mode 0777: anyone holding the fd reopens it read-write...
  reopenReadWrite: 'ok',
  // ... and the seals still refuse every write through it.
  reopenedWrite: 'EPERM',
  reopenedMmapWritable: 'EPERM',
};

/** Counter changes each reader must see before the writer is killed: proof they raced it. */
const UPDATES = 2000;

/** Starts the writer fixture and receives its region's fd over a socketpair, as a client would. */
async function startWriter(name: string): Promise<{ writer: Peer; regionFd: number }> {
  const [ours, theirs] = socketpair();
  try {
    const writer = spawnPeer('region-writer', [name], { fds: [theirs] });
    close(theirs);
    await writer.next('ready');
    const fds: number[] = [];
    expect(recvmsg(ours, new Uint8Array(1), 0, 1, fds)).toBe(1);
    expect(fds).toHaveLength(1);
    return { writer, regionFd: fds[0]! };
  } finally {
    close(ours);
  }
}

/** Spawns a reader fixture that inherits `fd` as its fd 3; this process keeps (and closes) its own. */
function spawnReader(args: readonly string[], fd: number, options: { uid?: number; gid?: number } = {}): Peer {
  return spawnPeer('region-reader', args, { ...options, fds: [fd], stdin: true });
}

describe('read-only shared regions across processes', () => {
  it('readers never see a torn record nor a counter going back while the writer writes flat out; a writer killed with kill -9 leaves them its last record', async () => {
    const { writer, regionFd } = await startWriter('pollux-flat-out');
    const readers = [0, 1].map(() => spawnReader(['watch', String(UPDATES)], regionFd));
    close(regionFd);

    const observed = await Promise.all(readers.map((reader) => reader.next('observed')));
    for (const seen of observed) {
      expect(seen).toMatchObject({ torn: 0, backwards: 0, changes: UPDATES });
    }

    writer.child.kill('SIGKILL');
    expect(await writer.exited).toMatchObject({ signal: 'SIGKILL' });
    // With the writer dead, every read gives the same last record, whole, and no earlier one.
    const finals = [];
    for (const reader of readers) {
      reader.child.stdin!.write('read\n');
      const first = await reader.next('snapshot');
      reader.child.stdin!.write('read\n');
      const second = await reader.next('snapshot');
      expect(second).toEqual(first);
      finals.push(first);
    }
    expect(finals[1]).toEqual(finals[0]);
    const [last] = finals;
    expect(Number.isNaN(last!.counter)).toBe(false);
    for (const seen of observed) {
      expect(last!.counter as number).toBeGreaterThanOrEqual(seen.counter as number);
      expect(last!.version as number).toBeGreaterThanOrEqual(seen.version as number);
    }
    // The counter and the write count tell the same story: one write per counter value.
    expect(last!.version).toBe(last!.counter);

    for (const reader of readers) reader.child.stdin!.end();
    for (const reader of readers) {
      const closed = await reader.next('closed');
      // The view holds no fd, and unmapped the region on close.
      expect(closed).toMatchObject({ fdsAfterOpen: closed.fdsBeforeOpen, mapped: false });
      expect(await reader.exited).toEqual({ code: 0, signal: null });
    }
  });

  it.each<[string, { uid?: number; gid?: number }]>([
    ['as uid 65534', { uid: 65534, gid: 65534 }],
    ['as the writer’s own user', {}],
  ])('a reader %s gets EPERM from every way to write the region, and reads it unchanged', async (_, user) => {
    using region = SharedRegion.create({ name: 'pollux-attacked', size: 64 });
    const record = new Float64Array(8).fill(42);
    region.write(new Uint8Array(record.buffer));
    const reader = spawnReader(['attack'], region.fd, user);

    const { uid, attacks } = await reader.next('attacks');
    expect(uid).toBe(user.uid ?? process.getuid!());
    expect(attacks).toEqual(WRITES_REFUSED);
    expect(await reader.next('snapshot')).toMatchObject({ counter: 42, version: 1 });
    expect(await reader.exited).toEqual({ code: 0, signal: null });

    using view = SharedRegionView.open(region.fd, { size: 64 });
    const after = new Float64Array(8);
    expect(view.read(new Uint8Array(after.buffer))).toBe(1);
    expect(after).toEqual(record);
  });

  it('runs the example: a server publishing a pose at 1 kHz, two client processes reading whole snapshots', async () => {
    const tsx = fileURLToPath(import.meta.resolve('tsx'));
    const main = fileURLToPath(new URL('../examples/shared-region/main.ts', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', tsx, main], {
      cwd: fileURLToPath(new URL('../examples', import.meta.url)),
    });
    expect(stdout).toMatch(/\[client 1\] a writable mapping of the region: refused, -1 \(-EPERM\)/);
    expect(stdout).toMatch(/\[client 1\] 60 frames, 0 torn/);
    expect(stdout).toMatch(/\[client 2\] 60 frames, 0 torn/);
    expect(stdout).toMatch(/\[server\] wrote \d+ poses; clients exited with 0, 0/);
  }, 120_000); // three processes started through tsx
});

describe('regions handed over by name on a pollux connection', () => {
  /** A record of eight copies of `value`, as the fixtures read it. */
  const recordOf = (value: number): Uint8Array => new Uint8Array(new Float64Array(8).fill(value).buffer);

  async function codeOf(promise: Promise<unknown>): Promise<string> {
    const error = await promise.then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(IpcError);
    return (error as IpcError).code;
  }

  it('a client opens a published region by name; unknown, refused, unpublished names and other services fail with their codes', async () => {
    using pose = SharedRegion.create({ name: 'pose', size: 64 });
    using secret = SharedRegion.create({ name: 'secret', size: 64 });
    pose.write(recordOf(7));
    const running = await startServer((server) => {
      publishRegion(server, pose);
      publishRegion(server, secret, { allow: (credentials) => credentials.uid !== process.getuid!() });
      server.addService({ id: 1, name: 'other', commands: {} });
      expect(() => publishRegion(server, pose)).toThrowError(expect.objectContaining({ code: 'EEXIST' }));
    });
    const client = await connect(running.address, REGION_SERVICE_NAME);
    const other = await connect(running.address, 'other');
    try {
      const view = await openRegion(client, 'pose', { size: 64 });
      const read = new Float64Array(8);
      expect(view.read(new Uint8Array(read.buffer))).toBe(1);
      expect(read).toEqual(new Float64Array(8).fill(7));
      view.close();
      expect(await codeOf(openRegion(client, 'nothing here'))).toBe('ENOENT');
      expect(await codeOf(openRegion(client, 'secret'))).toBe('EACCES');
      expect(await codeOf(openRegion(client, 'pose', { size: 32 }))).toBe('EPROTO');
      expect(await codeOf(openRegion(other, 'pose'))).toBe('EINVAL');
      expect(unpublishRegion(running.server, 'pose')).toBe(true);
      expect(await codeOf(openRegion(client, 'pose'))).toBe('ENOENT');
    } finally {
      await client.close();
      await other.close();
      await running.stop();
    }
  });

  it('a client of uid 65534 that asks for the region by name gets EPERM from every way to write it', async () => {
    using pose = SharedRegion.create({ name: 'pose', size: 64 });
    pose.write(recordOf(42));
    const running = await startServer((server) => publishRegion(server, pose), { socket: { mode: 0o777 } });
    try {
      const reader = spawnPeer('region-reader', ['attack'], {
        uid: 65534,
        gid: 65534,
        env: { POLLUX_REGION_ADDRESS: running.address },
      });
      const { uid, attacks } = await reader.next('attacks');
      expect(uid).toBe(65534);
      expect(attacks).toEqual(WRITES_REFUSED);
      expect(await reader.next('snapshot')).toMatchObject({ counter: 42, version: 1 });
      expect(await reader.exited).toEqual({ code: 0, signal: null });
    } finally {
      await running.stop();
    }
  });
});
