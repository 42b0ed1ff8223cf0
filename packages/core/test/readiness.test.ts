import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { interestEvents, Ready, readinessFrom, type ReadinessBits } from '../src/index.js';

// poll(2)'s values on Linux, as a backend would pass them.
const POLLIN = 0x1;
const POLLOUT = 0x4;
const POLLERR = 0x8;
const POLLHUP = 0x10;
const POLLNVAL = 0x20;
const POLLRDHUP = 0x2000;
const BITS: ReadinessBits = {
  readable: POLLIN,
  hangUp: POLLRDHUP,
  writable: POLLOUT,
  hangUpBoth: POLLHUP,
  error: POLLERR | POLLNVAL,
};
const { Readable, Writable, HangUp } = Ready;
const IO = Readable | Writable;

describe('readinessFrom', () => {
  it('reports readable and writable only while the interest wants them', () => {
    expect(readinessFrom(POLLIN | POLLOUT, Readable | Writable, BITS)).toBe(Readable | Writable);
    expect(readinessFrom(POLLIN | POLLOUT, Writable, BITS)).toBe(Writable);
    expect(readinessFrom(POLLIN, 0, BITS)).toBe(0);
  });

  it('gives an error every I/O bit the interest wants, whatever the backend said with it', () => {
    for (const invalid of [POLLERR, POLLNVAL]) {
      expect(readinessFrom(invalid, Readable | Writable, BITS)).toBe(Ready.Error | Readable | Writable);
      expect(readinessFrom(invalid, Writable, BITS)).toBe(Ready.Error | Writable);
      expect(readinessFrom(invalid | POLLIN, Writable, BITS)).toBe(Ready.Error | Writable);
      expect(readinessFrom(invalid, 0, BITS)).toBe(Ready.Error);
    }
  });

  it('gives a peer gone both ways every wanted I/O bit, even a bare POLLHUP (a pipe with no data left)', () => {
    expect(readinessFrom(POLLHUP, Readable, BITS)).toBe(HangUp | Readable);
    expect(readinessFrom(POLLHUP, Writable, BITS)).toBe(HangUp | Writable);
    expect(readinessFrom(POLLHUP | POLLIN | POLLRDHUP, 0, BITS)).toBe(HangUp);
  });

  it('reports a half-close with Readable, and only while reading', () => {
    expect(readinessFrom(POLLRDHUP, Readable | Writable, BITS)).toBe(HangUp | Readable);
    expect(readinessFrom(POLLRDHUP | POLLIN, Writable, BITS)).toBe(0);
    expect(readinessFrom(POLLRDHUP | POLLOUT, Writable, BITS)).toBe(Writable);
  });

  it('never reports I/O the interest does not want, and never drops what it must report', () => {
    const flag = fc.constantFrom(POLLIN, POLLOUT, POLLERR, POLLHUP, POLLNVAL, POLLRDHUP);
    const eventsArb = fc.array(flag).map((flags) => flags.reduce((mask, bit) => mask | bit, 0));
    fc.assert(
      fc.property(eventsArb, fc.integer({ min: 0, max: IO }), (events, interest) => {
        const ready = readinessFrom(events, interest, BITS);
        expect(ready & IO & ~interest).toBe(0);
        expect((ready & Ready.Error) !== 0).toBe((events & (POLLERR | POLLNVAL)) !== 0);
        if (ready & Ready.Error || events & POLLHUP) expect(ready & IO).toBe(interest);
        if (events & POLLHUP) expect(ready & HangUp).toBe(HangUp);
        // What the backend was asked for (by interestEvents) is never dropped once reported.
        if ((events & ~(POLLERR | POLLHUP | POLLNVAL) & ~interestEvents(interest, BITS)) === 0 && events !== 0) {
          expect(ready).not.toBe(0);
        }
      }),
    );
  });
});
