// SharedRegion: a sealed memfd region its creator writes through a seqlock.
import { ftruncateSync } from 'node:fs';
import { constants } from 'node:os';
import { IpcError } from '@pollux/core';
import {
  F_SEAL_FUTURE_WRITE,
  F_SEAL_GROW,
  F_SEAL_SEAL,
  F_SEAL_SHRINK,
  addSeals,
  close,
  memfdCreate,
  seqlockWrite,
  unmap,
} from '@pollux/sys';
import { encodeHeader, recordOffset, regionLayout, type RegionLayout } from './region-layout.js';
import { checkRecord, mapRegion, sysResult } from './region-checks.js';

/** The seals a region carries before anyone else may hold its fd, and that readers insist on. */
export const READER_SEALS = F_SEAL_FUTURE_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

/** Options of {@link SharedRegion.create}. */
export interface SharedRegionOptions {
  /** Names the region: the name a client asks for, and `memfd:<name>` in `/proc/<pid>/fd` (at most 249 bytes). */
  readonly name: string;
  /** Bytes of each record, 1 to 1 MiB. Readers read whole records. */
  readonly size: number;
  /** How many records the region holds (1 to 65,536), each updated and read on its own. Default 1. */
  readonly records?: number;
}

/**
 * The writer's side of a read-only shared region: a sealed memfd that only this process can
 * write, holding records that readers in other processes ({@link SharedRegionView}) copy out as
 * consistent snapshots without taking a lock (Monado's device poses).
 *
 * The region is identified by its {@link SharedRegion.name} and handed to readers as its
 * {@link SharedRegion.fd}: inherited by a child (`spawn`'s `stdio` array) or passed over a Unix
 * socket (`SCM_RIGHTS`). The kernel enforces that holders of the fd only read: it is sealed with
 * `F_SEAL_FUTURE_WRITE`, `F_SEAL_SHRINK`, `F_SEAL_GROW` and `F_SEAL_SEAL` after this process
 * mapped it writable, so every other attempt to write it (a writable `mmap`, `write(2)` through
 * the fd or through `/proc/self/fd/N` reopened read-write, `ftruncate`, removing the seals) fails
 * with `EPERM`, for every user, root included.
 *
 * One writer per record: call {@link SharedRegion.write} for a record from one place only.
 * {@link SharedRegion.close} releases the fd and the mapping; readers keep theirs, and the memory
 * lives on until the last of them closes.
 */
export class SharedRegion {
  /** The region's name, as given to {@link SharedRegion.create}. */
  readonly name: string;
  /** Bytes of each record. */
  readonly size: number;
  /** How many records the region holds. */
  readonly records: number;
  readonly #layout: RegionLayout;
  #fd: number;
  #mapping: ArrayBuffer | undefined;

  private constructor(name: string, layout: RegionLayout, fd: number, mapping: ArrayBuffer) {
    this.name = name;
    this.size = layout.recordSize;
    this.records = layout.records;
    this.#layout = layout;
    this.#fd = fd;
    this.#mapping = mapping;
  }

  /**
   * Creates a region: a memfd sized for the records (all zeros, written 0 times), mapped
   * writable by this process, then sealed so that nobody else can ever write it.
   *
   * @param options - name, record size and count
   * @throws {@link @pollux/core!index.IpcError} `EINVAL` (bad name, size or count), `EMFILE`/`ENFILE` (out of fds),
   *   `ENOMEM`, `ENOSPC` (no memory for the region), `ENOSYS` (kernel older than 5.1: no
   *   `F_SEAL_FUTURE_WRITE`)
   */
  static create(options: SharedRegionOptions): SharedRegion {
    const name: unknown = options.name;
    if (typeof name !== 'string' || name.length === 0 || name.includes('\0') || Buffer.byteLength(name) > 249) {
      throw new IpcError(
        'EINVAL',
        `a shared region's name must be a string of 1 to 249 bytes without NUL (a memfd's name), got ${String(name)}`,
      );
    }
    const layout = regionLayout(options.size, options.records ?? 1);
    const fd = sysResult(memfdCreate(name), `create the memory of shared region '${name}'`);
    let mapping: ArrayBuffer | undefined;
    try {
      try {
        ftruncateSync(fd, layout.byteLength);
      } catch (error) {
        throw IpcError.from(error, 'ENOMEM');
      }
      mapping = mapRegion(fd, layout.byteLength, true, `map shared region '${name}'`);
      encodeHeader(layout, new Uint8Array(mapping));
      const sealed = addSeals(fd, READER_SEALS);
      if (sealed === -constants.errno.EINVAL) {
        throw new IpcError(
          'ENOSYS',
          `cannot seal shared region '${name}' against readers' writes: this kernel has no F_SEAL_FUTURE_WRITE (Linux 5.1 or newer needed)`,
        );
      }
      sysResult(sealed, `seal shared region '${name}'`);
      return new SharedRegion(name, layout, fd, mapping);
    } catch (error) {
      if (mapping !== undefined) unmap(mapping);
      close(fd);
      throw error;
    }
  }

  /**
   * The region's fd, to hand to readers. It stays owned by the region (closed by
   * {@link SharedRegion.close}); passing it over a socket or to a child gives the receiver its own copy.
   *
   * @throws {@link @pollux/core!index.IpcError} `EBADF` once the region is closed
   */
  get fd(): number {
    if (this.#fd < 0) throw this.#closedError();
    return this.#fd;
  }

  /**
   * Publishes `record` as the new value of record `index`. Readers never see a mix of it and an
   * earlier value, and never wait for this call.
   *
   * @param record - the value, exactly {@link SharedRegion.size} bytes
   * @param index - which record, default 0
   * @returns how many times record `index` has been written, this time included
   * @throws {@link @pollux/core!index.IpcError} `EINVAL` (wrong size or index), `EBADF` (the region is closed)
   */
  write(record: Uint8Array, index = 0): number {
    if (this.#mapping === undefined) throw this.#closedError();
    checkRecord(this.#layout, record, index, `shared region '${this.name}'`);
    return seqlockWrite(this.#mapping, recordOffset(this.#layout, index), record);
  }

  /**
   * Unmaps the region and closes its fd; idempotent. Readers that hold the fd or a mapping keep
   * reading the last values written.
   */
  close(): void {
    if (this.#mapping === undefined) return;
    unmap(this.#mapping);
    this.#mapping = undefined;
    close(this.#fd);
    this.#fd = -1;
  }

  /** {@link SharedRegion.close}, for `using region = SharedRegion.create(…)`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #closedError(): IpcError {
    return new IpcError('EBADF', `shared region '${this.name}' is closed`);
  }
}
