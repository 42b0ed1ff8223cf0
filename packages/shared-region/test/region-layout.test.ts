import { IpcError } from '@pollux/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  HEADER_SIZE,
  MAX_RECORD_SIZE,
  MAX_RECORDS,
  decodeHeader,
  encodeHeader,
  regionLayout,
  type RegionLayout,
} from '../src/region-layout.js';

const layouts = fc
  .tuple(fc.integer({ min: 1, max: MAX_RECORD_SIZE }), fc.integer({ min: 1, max: MAX_RECORDS }))
  .map(([size, records]) => regionLayout(size, records));

function headerOf(layout: RegionLayout): Uint8Array {
  const header = new Uint8Array(HEADER_SIZE);
  encodeHeader(layout, header);
  return header;
}

describe('region header', () => {
  it('decodes what the writer encodes, for the file size it implies', () => {
    fc.assert(
      fc.property(layouts, (layout) => {
        expect(decodeHeader(headerOf(layout), layout.byteLength)).toEqual(layout);
      }),
    );
  });

  it('refuses any header whose file has another size', () => {
    fc.assert(
      fc.property(layouts, fc.integer({ min: 0, max: 2 ** 40 }), (layout, fileSize) => {
        fc.pre(fileSize !== layout.byteLength);
        expect(() => decodeHeader(headerOf(layout), fileSize)).toThrow(expect.objectContaining({ code: 'EBADMSG' }));
      }),
    );
  });

  it('either decodes hostile bytes into a layout that fits the file exactly, or refuses them with EBADMSG or EPROTO', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 24 }),
      // Near misses: a valid header with some bytes changed.
      fc
        .tuple(layouts, fc.array(fc.tuple(fc.nat(HEADER_SIZE - 1), fc.nat(255)), { minLength: 1, maxLength: 4 }))
        .map(([layout, changes]) => {
          const header = headerOf(layout);
          for (const [at, value] of changes) header[at] = value;
          return header;
        }),
    );
    fc.assert(
      fc.property(bytes, fc.oneof(fc.nat(), fc.constant(-1)), (header, size) => {
        // -1: the size the header claims, so that a header that reads well gets through.
        const claimed = header.length >= HEADER_SIZE ? tryLayout(header) : undefined;
        const fileSize = size === -1 && claimed !== undefined ? claimed.byteLength : Math.max(size, 0);
        let layout: RegionLayout;
        try {
          layout = decodeHeader(header, fileSize);
        } catch (error) {
          expect(error).toBeInstanceOf(IpcError);
          expect(['EBADMSG', 'EPROTO']).toContain((error as IpcError).code);
          return;
        }
        expect(layout.byteLength).toBe(fileSize);
        expect(layout.recordSize).toBeGreaterThanOrEqual(1);
        expect(layout.recordSize).toBeLessThanOrEqual(MAX_RECORD_SIZE);
        expect(layout.records).toBeGreaterThanOrEqual(1);
        expect(layout.records).toBeLessThanOrEqual(MAX_RECORDS);
        expect(headerOf(layout)).toEqual(header.subarray(0, HEADER_SIZE));
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses record sizes and counts out of range with EINVAL', () => {
    for (const [size, records] of [
      [0, 1],
      [1, 0],
      [MAX_RECORD_SIZE + 1, 1],
      [1, MAX_RECORDS + 1],
      [1.5, 1],
      [Number.NaN, 1],
    ] as const) {
      expect(() => regionLayout(size, records)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    }
  });
});

/** The layout a header's size fields claim, if they are in range. */
function tryLayout(header: Uint8Array): RegionLayout | undefined {
  const view = new DataView(header.buffer, header.byteOffset, HEADER_SIZE);
  try {
    return regionLayout(view.getUint32(8, true), view.getUint32(12, true));
  } catch {
    return undefined;
  }
}
