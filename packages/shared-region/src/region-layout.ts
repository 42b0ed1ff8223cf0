// The bytes of a region: a 16-byte header the writer fills before sealing, then the records, each
// a seqlocked latch (@pollux/sys seqlockWrite). A reader copies the header out of the fd, checks
// it against the file's size, and trusts only what it checked.
import { IpcError } from '@pollux/core';
import { seqlockFootprint } from '@pollux/sys';

/** Bytes of the header; the first record starts right after it, 8-byte aligned. */
export const HEADER_SIZE = 16;
/** `PLXR` in ASCII: a pollux region. */
const MAGIC = 0x52584c50;
/** Layout version this code writes and reads. */
export const LAYOUT_VERSION = 1;
/** Largest record: large state belongs in several records, each copied whole on every read. */
export const MAX_RECORD_SIZE = 1 << 20;
/** Most records in one region. */
export const MAX_RECORDS = 1 << 16;

/** Where things are in a region, from its header. */
export interface RegionLayout {
  /** Bytes of each record. */
  readonly recordSize: number;
  /** How many records the region holds. */
  readonly records: number;
  /** Bytes the region takes: the header and every record. */
  readonly byteLength: number;
}

function isCount(value: unknown, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= max;
}

/**
 * The layout of a region of `records` records of `recordSize` bytes each.
 *
 * @throws {@link IpcError} `EINVAL` when a count is not an integer in range
 */
export function regionLayout(recordSize: number, records: number): RegionLayout {
  if (!isCount(recordSize, MAX_RECORD_SIZE) || !isCount(records, MAX_RECORDS)) {
    throw new IpcError(
      'EINVAL',
      `a shared region holds 1 to ${MAX_RECORDS} records of 1 to ${MAX_RECORD_SIZE} bytes each, got ${String(records)} of ${String(recordSize)}`,
    );
  }
  return { recordSize, records, byteLength: HEADER_SIZE + records * seqlockFootprint(recordSize) };
}

/** Where record `index` of `layout` starts. */
export function recordOffset(layout: RegionLayout, index: number): number {
  return HEADER_SIZE + index * seqlockFootprint(layout.recordSize);
}

/** Writes the header of `layout` into the first {@link HEADER_SIZE} bytes of `into`. */
export function encodeHeader(layout: RegionLayout, into: Uint8Array): void {
  const view = new DataView(into.buffer, into.byteOffset, HEADER_SIZE);
  view.setUint32(0, MAGIC, true);
  view.setUint16(4, LAYOUT_VERSION, true);
  view.setUint16(6, 0, true);
  view.setUint32(8, layout.recordSize, true);
  view.setUint32(12, layout.records, true);
}

/**
 * Checks a region's header, copied out of it, against the size of its file.
 *
 * @param header - the file's first bytes (fewer than {@link HEADER_SIZE} when the file is shorter)
 * @param fileSize - the file's size
 * @throws {@link IpcError} `EBADMSG` when this is no pollux region or its header does not match
 *   the file; `EPROTO` for a layout version this code does not read
 */
export function decodeHeader(header: Uint8Array, fileSize: number): RegionLayout {
  if (header.length < HEADER_SIZE) {
    throw new IpcError(
      'EBADMSG',
      `the shared region is ${fileSize} bytes, shorter than its ${HEADER_SIZE}-byte header: the fd is no pollux region`,
    );
  }
  const view = new DataView(header.buffer, header.byteOffset, HEADER_SIZE);
  if (view.getUint32(0, true) !== MAGIC) {
    throw new IpcError('EBADMSG', 'the shared region does not start with the PLXR mark: the fd is no pollux region');
  }
  const version = view.getUint16(4, true);
  if (version !== LAYOUT_VERSION || view.getUint16(6, true) !== 0) {
    throw new IpcError(
      'EPROTO',
      `the shared region has layout version ${version}.${view.getUint16(6, true)}, this reader reads ${LAYOUT_VERSION}.0: update @pollux/shared-region on the older side`,
    );
  }
  const recordSize = view.getUint32(8, true);
  const records = view.getUint32(12, true);
  if (!isCount(recordSize, MAX_RECORD_SIZE) || !isCount(records, MAX_RECORDS)) {
    throw new IpcError(
      'EBADMSG',
      `the shared region's header claims ${records} records of ${recordSize} bytes, outside 1 to ${MAX_RECORDS} records of 1 to ${MAX_RECORD_SIZE} bytes`,
    );
  }
  const layout = regionLayout(recordSize, records);
  if (layout.byteLength !== fileSize) {
    throw new IpcError(
      'EBADMSG',
      `the shared region's header describes ${layout.byteLength} bytes (${records} records of ${recordSize}), its file has ${fileSize}`,
    );
  }
  return layout;
}
