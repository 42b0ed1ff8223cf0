import { fstatSync, ftruncateSync, readFileSync, readSync, writeSync } from 'node:fs';
import { F_SEAL_FUTURE_WRITE, F_SEAL_SEAL, F_SEAL_SHRINK, addSeals, close, memfdCreate, socketpair } from '@pollux/sys';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openFdCount } from '../../../test/support/fds.js';
import { SharedRegion, SharedRegionView } from '../src/index.js';

let fdBaseline = 0;
beforeEach(() => {
  fdBaseline = openFdCount();
});
afterEach(() => {
  expect(openFdCount(), 'fds leaked by this test').toBe(fdBaseline);
});

/** Whether this process maps a memfd called `name`. */
function mapsMemfd(name: string): boolean {
  return readFileSync('/proc/self/maps', 'utf8').includes(`/memfd:${name} `);
}

function isOpen(fd: number): boolean {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

const code = (expected: string) => expect.objectContaining({ code: expected, name: 'IpcError' });

describe('SharedRegion and SharedRegionView', () => {
  it('hand readers consistent snapshots of each record, with write counts', () => {
    using region = SharedRegion.create({ name: 'pollux-poses', size: 24, records: 3 });
    using view = SharedRegionView.open(region.fd, { size: 24, records: 3 });
    expect([view.size, view.records]).toEqual([24, 3]);
    const snapshot = new Uint8Array(24);
    expect(view.read(snapshot, 2)).toBe(0);
    expect(snapshot).toEqual(new Uint8Array(24));
    expect(region.write(new Uint8Array(24).fill(1), 2)).toBe(1);
    expect(region.write(new Uint8Array(24).fill(2), 2)).toBe(2);
    expect(region.write(new Uint8Array(24).fill(7))).toBe(1);
    expect(view.read(snapshot, 2)).toBe(2);
    expect(snapshot).toEqual(new Uint8Array(24).fill(2));
    expect(view.read(snapshot)).toBe(1);
    expect(snapshot).toEqual(new Uint8Array(24).fill(7));
    expect(view.read(snapshot, 1)).toBe(0);
  });

  it('keep reading the last values after the writer closed, and unmap on close, idempotently', () => {
    const region = SharedRegion.create({ name: 'pollux-lifecycle', size: 8 });
    const view = SharedRegionView.open(region.fd);
    region.write(new Uint8Array(8).fill(5));
    region.close();
    region.close();
    expect(() => region.fd).toThrow(code('EBADF'));
    expect(() => region.write(new Uint8Array(8))).toThrow(code('EBADF'));
    const snapshot = new Uint8Array(8);
    expect(view.read(snapshot)).toBe(1);
    expect(snapshot).toEqual(new Uint8Array(8).fill(5));
    expect(mapsMemfd('pollux-lifecycle')).toBe(true);
    view.close();
    view.close();
    expect(mapsMemfd('pollux-lifecycle')).toBe(false);
    expect(() => view.read(snapshot)).toThrow(code('EBADF'));
  });

  it('expose no memory of the region: a view holds only its record size and count', () => {
    using region = SharedRegion.create({ name: 'pollux-no-memory', size: 8 });
    using view = SharedRegionView.open(region.fd);
    for (const side of [region, view]) {
      const reachable = [...Reflect.ownKeys(side).map((key) => Reflect.get(side, key)), ...Object.values(side)];
      expect(reachable.some((value) => value instanceof ArrayBuffer || ArrayBuffer.isView(value))).toBe(false);
    }
    expect(Reflect.ownKeys(view)).toEqual(['size', 'records']);
  });

  it('refuse bad options, record sizes and indexes with EINVAL', () => {
    expect(() => SharedRegion.create({ name: '', size: 8 })).toThrow(code('EINVAL'));
    expect(() => SharedRegion.create({ name: 'a\0b', size: 8 })).toThrow(code('EINVAL'));
    expect(() => SharedRegion.create({ name: 'x'.repeat(250), size: 8 })).toThrow(code('EINVAL'));
    expect(() => SharedRegion.create({ name: 'ok', size: 0 })).toThrow(code('EINVAL'));
    expect(() => SharedRegion.create({ name: 'ok', size: 8, records: 0 })).toThrow(code('EINVAL'));
    using region = SharedRegion.create({ name: 'pollux-bad-args', size: 8, records: 2 });
    expect(() => region.write(new Uint8Array(9))).toThrow(code('EINVAL'));
    expect(() => region.write(new Uint8Array(8), 2)).toThrow(code('EINVAL'));
    expect(() => region.write(new Uint8Array(8), -1)).toThrow(code('EINVAL'));
    expect(() => SharedRegionView.open(region.fd, { attempts: 0 })).toThrow(code('EINVAL'));
    using view = SharedRegionView.open(region.fd);
    expect(() => view.read(new Uint8Array(7))).toThrow(code('EINVAL'));
    expect(() => view.read(new Uint8Array(8), 1.5)).toThrow(code('EINVAL'));
  });
});

describe('SharedRegionView.open refuses a region a reader cannot trust, and leaves its fd to the caller', () => {
  /** A memfd of `size` bytes holding `header`, with `seals` added. */
  function memfd(size: number, seals: number, header?: Uint8Array): number {
    const fd = memfdCreate('pollux-untrusted');
    ftruncateSync(fd, size);
    if (header !== undefined) writeSync(fd, header, 0, header.length, 0);
    expect(addSeals(fd, seals)).toBe(0);
    return fd;
  }

  /** The first bytes of a valid region of one 8-byte record, and its size. */
  function validRegion(): { header: Uint8Array; size: number } {
    using region = SharedRegion.create({ name: 'pollux-template', size: 8 });
    const size = fstatSync(region.fd).size;
    const header = new Uint8Array(16);
    readSync(region.fd, header, 0, 16, 0);
    return { header, size };
  }

  const sealed = F_SEAL_FUTURE_WRITE | F_SEAL_SHRINK | F_SEAL_SEAL;

  it.each([
    ['a memfd not sealed against writes', () => memfd(64, F_SEAL_SHRINK, validRegion().header), 'EACCES'],
    ['a memfd not sealed against shrinking', () => memfd(64, F_SEAL_FUTURE_WRITE, validRegion().header), 'EACCES'],
    ['a socket (no memfd: cannot carry seals)', () => socketpairEnd(), 'EACCES'],
    ['a sealed memfd that is no region', () => memfd(64, sealed), 'EBADMSG'],
    [
      'a sealed region of another size than its header says',
      () => memfd(validRegion().size + 8, sealed, validRegion().header),
      'EBADMSG',
    ],
  ] as const)('%s', (_, make, expected) => {
    const fd = make();
    expect(() => SharedRegionView.open(fd)).toThrow(code(expected));
    expect(isOpen(fd)).toBe(true);
    close(fd);
  });

  it('a region with another record format than expected: EPROTO', () => {
    using region = SharedRegion.create({ name: 'pollux-format', size: 8, records: 2 });
    for (const options of [{ size: 16 }, { records: 1 }]) {
      expect(() => SharedRegionView.open(region.fd, options)).toThrow(code('EPROTO'));
    }
  });

  it('an fd that is not open: EBADF', () => {
    const fd = memfdCreate('pollux-closed');
    close(fd);
    expect(() => SharedRegionView.open(fd)).toThrow(code('EBADF'));
  });
});

/** One end of a socketpair, the other closed. */
function socketpairEnd(): number {
  const [a, b] = socketpair();
  close(b);
  return a;
}
