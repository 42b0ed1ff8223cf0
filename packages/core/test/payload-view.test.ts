import { inspect, isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { payloadView } from '../src/protocol/payload-view.js';

describe('payloadView', () => {
  it('is a Buffer to every check a receiver may make', () => {
    const memory = new ArrayBuffer(64);
    const view = payloadView(memory, 8, 4);
    view.write('ping');
    expect(Buffer.isBuffer(view)).toBe(true);
    expect(Object.getPrototypeOf(view)).toBe(Buffer.prototype);
    // Deep equality compares prototypes too: a user's test of a payload against a Buffer holds.
    expect(isDeepStrictEqual(view, Buffer.from('ping'))).toBe(true);
    expect(view).toStrictEqual(Buffer.from('ping'));
    expect(inspect(view)).toBe('<Buffer 70 69 6e 67>');
    expect(view.toString()).toBe('ping');
    expect(view.readUInt32BE(0)).toBe(0x70696e67);
    expect(JSON.stringify(view)).toBe(JSON.stringify(Buffer.from('ping')));
    expect(view.equals(Buffer.from('ping'))).toBe(true);
    expect(Buffer.concat([view, view]).toString()).toBe('pingping');
  });

  it('views the bytes in place, at any offset and length within the memory', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 512 }), fc.nat(), fc.nat(), (bytes, a, b) => {
        const offset = a % bytes.length;
        const length = b % (bytes.length - offset + 1);
        const view = payloadView(bytes.buffer, bytes.byteOffset + offset, length);
        expect([...view]).toEqual([...bytes.subarray(offset, offset + length)]);
        // A view, not a copy: the writer's later bytes show through.
        if (length > 0) {
          bytes[offset] = bytes[offset]! ^ 0xff;
          expect(view[0]).toBe(bytes[offset]);
        }
      }),
      { numRuns: 200 },
    );
  });
});
