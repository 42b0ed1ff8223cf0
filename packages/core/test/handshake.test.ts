import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IpcError } from '../src/errors.js';
import {
  decodeError,
  decodeGoodbye,
  decodeHello,
  decodeWelcome,
  encodeError,
  encodeGoodbye,
  encodeHello,
  encodeWelcome,
} from '../src/protocol/handshake.js';

const nameArb = fc.string({ maxLength: 60 }).filter((s) => Buffer.byteLength(s) <= 255);
const controlArb = fc.record({
  version: fc.integer({ min: 0, max: 0xffff }),
  maxFds: fc.integer({ min: 0, max: 0xffff }),
  maxMessage: fc.integer({ min: 0, max: 0xffffffff }),
  serviceId: fc.integer({ min: 0, max: 0xffffffff }),
  serviceName: nameArb,
});

/** Runs `decode` and requires it either to succeed or to throw an `EPROTO` IpcError. */
function onlyProtocolErrors(decode: () => unknown): void {
  try {
    decode();
  } catch (error) {
    expect(error).toBeInstanceOf(IpcError);
    expect((error as IpcError).code).toBe('EPROTO');
  }
}

describe('handshake codec', () => {
  it('round-trips hello and welcome', () => {
    fc.assert(
      fc.property(controlArb, (control) => {
        expect(decodeHello(encodeHello(control))).toEqual(control);
        expect(decodeWelcome(encodeWelcome(control))).toEqual(control);
      }),
    );
  });

  it('round-trips errors, replacing codes that are not errno names (Node.js ERR_* codes included)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('EAGAIN', 'ENXIO', 'E2BIG', 'ERR_INVALID_ARG_TYPE', 'E_', 'bogus', ''),
        fc.string({ maxLength: 2000 }),
        (code, message) => {
          const decoded = decodeError(encodeError(code, message));
          expect(decoded.code).toBe(/^E[A-Z0-9]+$/.test(code) ? code : 'EREMOTEIO');
          expect(message.startsWith(decoded.message)).toBe(true);
        },
      ),
    );
  });

  it('rejects random bytes with EPROTO only', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        const payload = Buffer.from(bytes);
        onlyProtocolErrors(() => decodeHello(payload));
        onlyProtocolErrors(() => decodeWelcome(payload));
        onlyProtocolErrors(() => decodeError(payload));
        onlyProtocolErrors(() => decodeGoodbye(payload));
      }),
      { numRuns: 2000 },
    );
  });

  it("round-trips the server goodbye's request count modulo 2^32, and reads an empty goodbye as no count", () => {
    fc.assert(
      fc.property(fc.nat({ max: Number.MAX_SAFE_INTEGER }), (count) => {
        expect(decodeGoodbye(encodeGoodbye(count))).toBe(count % 2 ** 32);
      }),
    );
    expect(decodeGoodbye(Buffer.alloc(0))).toBeUndefined();
  });

  it('refuses an error frame whose code is a Node.js code, not an errno name', () => {
    const code = 'ERR_INVALID_ARG_TYPE';
    const payload = Buffer.concat([
      Buffer.from([code.length]),
      Buffer.from(code, 'latin1'),
      Buffer.from('bad argument'),
    ]);
    expect(() => decodeError(payload)).toThrowError(expect.objectContaining({ code: 'EPROTO' }));
  });

  it('refuses a hello without the pollux magic', () => {
    const hello = encodeHello({ version: 1, maxFds: 0, maxMessage: 10, serviceId: 1, serviceName: '' });
    hello[0] = hello[0]! ^ 0xff;
    expect(() => decodeHello(hello)).toThrowError(expect.objectContaining({ code: 'EPROTO' }));
  });
});
