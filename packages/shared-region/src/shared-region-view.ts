// SharedRegionView: a client's read-only, seal-checked view of a shared region.
import { fstatSync, readSync } from 'node:fs';
import { constants } from 'node:os';
import { IpcError } from '@pollux/core';
import { F_SEAL_FUTURE_WRITE, F_SEAL_SHRINK, F_SEAL_WRITE, getSeals, seqlockRead, unmap } from '@pollux/sys';
import { HEADER_SIZE, decodeHeader, recordOffset, type RegionLayout } from './region-layout.js';
import { checkRecord, mapRegion, sysResult } from './region-checks.js';

/** Options of {@link SharedRegionView.open}. */
export interface SharedRegionViewOptions {
  /** The record size this reader was written for: a region with another one is refused with `EPROTO`. */
  readonly size?: number;
  /** The record count this reader was written for: a region with another one is refused with `EPROTO`. */
  readonly records?: number;
  /**
   * Copies {@link SharedRegionView.read} tries before it gives up with `EAGAIN`; each fails only
   * when the writer completed an update during it. Default 1000.
   */
  readonly attempts?: number;
}

/**
 * A reader's side of a read-only shared region ({@link SharedRegion}): a read-only mapping of the
 * region, from which {@link SharedRegionView.read} copies consistent snapshots of its records.
 *
 * The view exposes no memory of the region: reads copy into the caller's buffer. The mapping is
 * `PROT_READ` and the region sealed, so a reader can trust the data and cannot change it; what a
 * reader that tries anyway gets, with the fd it was handed: a writable `mmap` fails with `EPERM`,
 * as do `write(2)` (through that fd, or through `/proc/self/fd/N` reopened read-write: a memfd's
 * inode is mode 0777, so the reopen itself succeeds, for any user), `ftruncate` and adding or
 * removing seals. A JavaScript write into a `PROT_READ` mapping would kill the process with
 * SIGSEGV, which is why no ArrayBuffer over it is ever handed out.
 *
 * A writer that dies, even in the middle of an update, leaves its readers the last complete value
 * of every record; the memory lives until the last reader closes.
 */
export class SharedRegionView {
  /** Bytes of each record. */
  readonly size: number;
  /** How many records the region holds. */
  readonly records: number;
  readonly #layout: RegionLayout;
  readonly #attempts: number;
  #mapping: ArrayBuffer | undefined;

  private constructor(layout: RegionLayout, mapping: ArrayBuffer, attempts: number) {
    this.size = layout.recordSize;
    this.records = layout.records;
    this.#layout = layout;
    this.#mapping = mapping;
    this.#attempts = attempts;
  }

  /**
   * Maps a region read-only, after checking that the kernel holds its writer to its word: the
   * file is a memfd sealed against writes by its holders (`F_SEAL_FUTURE_WRITE` or
   * `F_SEAL_WRITE`) and against shrinking (`F_SEAL_SHRINK`: a mapping of a file that shrank
   * faults with SIGBUS), and its header matches its size.
   *
   * Neither keeps nor closes `fd`: the mapping needs no fd once made, so the caller may close it
   * as soon as this returns (or throws).
   *
   * @param fd - the region's fd, as received from its writer
   * @param options - what the reader expects of the region, and how hard a read tries
   * @throws {@link @pollux/core!index.IpcError} `EACCES` (the fd is no memfd, or not sealed: its contents could
   *   change or vanish under the reader), `EBADMSG` (no pollux region, or its header does not
   *   match its file), `EPROTO` (another layout version, record size or count than expected),
   *   `EBADF` (fd not open), `EINVAL` (bad options), `ENOMEM`
   */
  static open(fd: number, options: SharedRegionViewOptions = {}): SharedRegionView {
    const attempts = options.attempts ?? 1000;
    if (!Number.isInteger(attempts) || attempts < 1) {
      throw new IpcError('EINVAL', `attempts must be a positive integer, got ${String(attempts)}`);
    }
    const seals = getSeals(fd);
    if (seals === -constants.errno.EINVAL) {
      throw new IpcError(
        'EACCES',
        `fd ${fd} is no memfd (it cannot carry seals), so nothing stops others from changing it: refused as a shared region`,
      );
    }
    sysResult(seals, `read the seals of fd ${fd}`);
    if ((seals & (F_SEAL_FUTURE_WRITE | F_SEAL_WRITE)) === 0 || (seals & F_SEAL_SHRINK) === 0) {
      throw new IpcError(
        'EACCES',
        `the memfd behind fd ${fd} is not sealed against writes and shrinking by its holders (seals 0x${seals.toString(16)}, F_SEAL_FUTURE_WRITE and F_SEAL_SHRINK needed): its contents could change or vanish under a reader; refused (SharedRegion.create seals its regions)`,
      );
    }
    const layout = SharedRegionView.#checkLayout(fd, options);
    const mapping = mapRegion(fd, layout.byteLength, false, `map the shared region behind fd ${fd}`);
    return new SharedRegionView(layout, mapping, attempts);
  }

  static #checkLayout(fd: number, options: SharedRegionViewOptions): RegionLayout {
    let fileSize: number;
    let header: Uint8Array;
    try {
      fileSize = fstatSync(fd).size;
      header = new Uint8Array(HEADER_SIZE);
      header = header.subarray(0, readSync(fd, header, 0, HEADER_SIZE, 0));
    } catch (error) {
      throw IpcError.from(error, 'EIO');
    }
    const layout = decodeHeader(header, fileSize);
    for (const [what, expected, actual] of [
      ['record size', options.size, layout.recordSize],
      ['record count', options.records, layout.records],
    ] as const) {
      if (expected !== undefined && expected !== actual) {
        throw new IpcError(
          'EPROTO',
          `the shared region's ${what} is ${actual}, this reader expects ${expected}: the writer and the reader disagree on the record format`,
        );
      }
    }
    return layout;
  }

  /**
   * Copies a consistent snapshot of record `index` into `into`: a value the writer completed,
   * never a mix of two, read without a lock and without waiting for the writer.
   *
   * @param into - receives the record; exactly {@link SharedRegionView.size} bytes
   * @param index - which record, default 0
   * @returns how many times the writer had written the record at the snapshot (0: never);
   *   it never goes down from one read to the next
   * @throws {@link @pollux/core!index.IpcError} `EAGAIN` (the writer completed an update during each of the
   *   attempts; `into` holds no consistent value, try again), `EINVAL` (wrong size or index),
   *   `EBADF` (the view is closed)
   */
  read(into: Uint8Array, index = 0): number {
    if (this.#mapping === undefined) throw new IpcError('EBADF', 'the shared region view is closed');
    checkRecord(this.#layout, into, index, 'the shared region');
    const version = seqlockRead(this.#mapping, recordOffset(this.#layout, index), into, this.#attempts);
    if (version < 0) {
      throw new IpcError(
        'EAGAIN',
        `the writer updated record ${index} during each of ${this.#attempts} copies: read again, or open the view with more attempts`,
      );
    }
    return version;
  }

  /** Unmaps the region; idempotent. Reads afterwards throw `EBADF`. */
  close(): void {
    if (this.#mapping === undefined) return;
    unmap(this.#mapping);
    this.#mapping = undefined;
  }

  /** {@link SharedRegionView.close}, for `using view = SharedRegionView.open(…)`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
