import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  SysError,
  bindUnix,
  close,
  listen,
  read,
  sendToUnix,
  setCloseOnExec,
  socketInfo,
  socketUnix,
  socketUnixDatagram,
  socketpair,
} from '../src/index.js';
import { O_CLOEXEC, checkFdLeaks, fdFlags } from './fd-leak.js';

checkFdLeaks();

const dir = mkdtempSync(join(tmpdir(), 'pollux-sys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sysErrorOf(fn: () => void): SysError {
  try {
    fn();
  } catch (error) {
    if (error instanceof SysError) return error;
    throw error;
  }
  throw new Error('expected a SysError');
}

describe('socketInfo', () => {
  it('tells a listening Unix stream socket and its path', () => {
    const fd = socketUnix();
    const path = join(dir, 'listening.sock');
    bindUnix(fd, path, false);
    expect(socketInfo(fd)).toEqual({
      family: 'unix',
      type: 'stream',
      listening: false,
      connected: false,
      address: path,
    });
    listen(fd, 8);
    expect(socketInfo(fd)).toEqual({
      family: 'unix',
      type: 'stream',
      listening: true,
      connected: false,
      address: path,
    });
    close(fd);
  });

  it('spells an abstract address with @, and an unbound one as empty', () => {
    const fd = socketUnix();
    expect(socketInfo(fd).address).toBe('');
    const name = `pollux-sys-info-${process.pid}`;
    bindUnix(fd, name, true);
    expect(socketInfo(fd).address).toBe(`@${name}`);
    close(fd);
  });

  it('tells a connected stream socket and a datagram socket apart from a listening one', () => {
    const [a, b] = socketpair();
    expect(socketInfo(a)).toMatchObject({ family: 'unix', type: 'stream', listening: false });
    const dgram = socketUnixDatagram();
    expect(socketInfo(dgram)).toMatchObject({ family: 'unix', type: 'dgram', listening: false });
    for (const fd of [a, b, dgram]) close(fd);
  });

  it('throws ENOTSOCK for a file and EBADF for a closed fd', () => {
    const file = openSync('/dev/null', 'r');
    expect(sysErrorOf(() => socketInfo(file)).code).toBe('ENOTSOCK');
    closeSync(file);
    expect(sysErrorOf(() => socketInfo(file)).code).toBe('EBADF');
  });
});

describe('setCloseOnExec', () => {
  it('sets and clears FD_CLOEXEC', () => {
    const fd = socketUnix();
    setCloseOnExec(fd, false);
    expect(fdFlags(fd) & O_CLOEXEC).toBe(0);
    setCloseOnExec(fd, true);
    expect(fdFlags(fd) & O_CLOEXEC).toBe(O_CLOEXEC);
    close(fd);
    expect(sysErrorOf(() => setCloseOnExec(fd, true)).code).toBe('EBADF');
  });
});

describe('datagrams to a Unix address', () => {
  it('sends one datagram to a path and to an abstract name, each read whole', () => {
    const path = join(dir, 'notify.sock');
    const byPath = socketUnixDatagram();
    bindUnix(byPath, path, false);
    const name = `pollux-sys-notify-${process.pid}`;
    const byName = socketUnixDatagram();
    bindUnix(byName, name, true);
    const sender = socketUnixDatagram();
    expect(fdFlags(sender) & O_CLOEXEC).toBe(O_CLOEXEC);
    const message = new TextEncoder().encode('READY=1\nSTATUS=up');
    expect(sendToUnix(sender, path, false, message)).toBe(message.length);
    expect(sendToUnix(sender, name, true, message.subarray(0, 7))).toBe(7);
    const buffer = new Uint8Array(64);
    expect(new TextDecoder().decode(buffer.subarray(0, read(byPath, buffer, 0, 64)))).toBe('READY=1\nSTATUS=up');
    expect(new TextDecoder().decode(buffer.subarray(0, read(byName, buffer, 0, 64)))).toBe('READY=1');
    expect(read(byPath, buffer, 0, 64)).toBe(-11);
    for (const fd of [byPath, byName, sender]) close(fd);
  });

  it('returns -errno where nobody receives, never throws', () => {
    const sender = socketUnixDatagram();
    const bytes = new Uint8Array([1]);
    expect(sendToUnix(sender, join(dir, 'absent.sock'), false, bytes)).toBe(-2); // -ENOENT
    expect(sendToUnix(sender, `pollux-sys-nobody-${process.pid}`, true, bytes)).toBe(-111); // -ECONNREFUSED
    const stream = socketUnix();
    const streamPath = join(dir, 'stream.sock');
    bindUnix(stream, streamPath, false);
    listen(stream, 1);
    expect(sendToUnix(sender, streamPath, false, bytes)).toBe(-91); // -EPROTOTYPE
    expect(sendToUnix(sender, 'x'.repeat(200), false, bytes)).toBe(-36); // -ENAMETOOLONG
    close(stream);
    close(sender);
  });
});
