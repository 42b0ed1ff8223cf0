// What the writer and the reader both check: results of @pollux/sys calls, and the record a
// caller names.
import { IpcError } from '@pollux/core';
import { mmap } from '@pollux/sys';
import type { RegionLayout } from './region-layout.js';

/**
 * `result`, a value or `-errno` from @pollux/sys, when it is a value.
 *
 * @throws {@link IpcError} with the errno's code when it is `-errno`
 */
export function sysResult(result: number, what: string): number {
  if (result < 0) throw IpcError.fromErrno(result, what);
  return result;
}

/**
 * Maps the first `length` bytes of `fd`.
 *
 * @throws {@link IpcError} with mmap's errno
 */
export function mapRegion(fd: number, length: number, writable: boolean, what: string): ArrayBuffer {
  const mapping = mmap(fd, length, writable);
  if (typeof mapping === 'number') throw IpcError.fromErrno(mapping, what);
  return mapping;
}

/**
 * Checks that `record` fits record `index` of `layout`.
 *
 * @throws {@link IpcError} `EINVAL` otherwise
 */
export function checkRecord(layout: RegionLayout, record: Uint8Array, index: number, region: string): void {
  if (!(record instanceof Uint8Array) || record.length !== layout.recordSize) {
    throw new IpcError(
      'EINVAL',
      `records of ${region} are ${layout.recordSize} bytes, got ${record instanceof Uint8Array ? `${record.length} bytes` : 'no Uint8Array'}`,
    );
  }
  if (!Number.isInteger(index) || index < 0 || index >= layout.records) {
    throw new IpcError('EINVAL', `${region} holds records 0 to ${layout.records - 1}, got index ${String(index)}`);
  }
}
