import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bytesCodec,
  emptyCodec,
  jsonCodec,
  structuredCloneCodec,
  utf8Codec,
  type Codec,
} from '../src/protocol/codec.js';
import { IpcError } from '../src/errors.js';

/** Decoding a peer's bytes either gives a value or throws EBADMSG: never another error, never a crash. */
function decodesOrRefuses(codec: Codec<unknown>, bytes: Uint8Array): void {
  try {
    codec.decode(Buffer.from(bytes));
  } catch (error) {
    expect(error).toBeInstanceOf(IpcError);
    expect((error as IpcError).code).toBe('EBADMSG');
  }
}

describe('built-in codecs', () => {
  it('carry their values there and back', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (text) => {
        expect(utf8Codec.decode(Buffer.from(utf8Codec.encode(text)))).toBe(text);
      }),
    );
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(jsonCodec().decode(Buffer.from(jsonCodec().encode(value)))).toEqual(JSON.parse(JSON.stringify(value)));
      }),
    );
    const clone = structuredCloneCodec<unknown>();
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.bigInt(), fc.date({ noInvalidDate: true }), fc.uint8Array()), (value) => {
        expect(clone.decode(Buffer.from(clone.encode(value)))).toEqual(value);
      }),
    );
    const map = new Map<string, Set<number>>([['a', new Set([1, 2])]]);
    expect(clone.decode(Buffer.from(clone.encode(map)))).toEqual(map);
    const bytes = Buffer.from([0, 255]);
    expect(bytesCodec.decode(bytes)).toBe(bytes);
    expect(emptyCodec.encode()).toHaveLength(0);
  });

  it('refuse bytes that are not theirs with EBADMSG, and only with it', () => {
    for (const codec of [utf8Codec, jsonCodec(), structuredCloneCodec(), emptyCodec] as Codec<unknown>[]) {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
          decodesOrRefuses(codec, bytes);
        }),
      );
    }
    expect(() => utf8Codec.decode(Buffer.from([0xc3]))).toThrow(expect.objectContaining({ code: 'EBADMSG' }));
    expect(() => jsonCodec().decode(Buffer.from('{'))).toThrow(expect.objectContaining({ code: 'EBADMSG' }));
    expect(() => emptyCodec.decode(Buffer.from([1]))).toThrow(expect.objectContaining({ code: 'EBADMSG' }));
  });

  it('refuse to encode a value JSON cannot carry, with EINVAL', () => {
    expect(() => jsonCodec<unknown>().encode(undefined)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });
});
