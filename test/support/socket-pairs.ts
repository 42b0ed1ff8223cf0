import * as sys from '@pollux/sys';
import { afterEach, beforeEach, expect } from 'vitest';
import { openFdCount } from './fds.js';

/** Socket pairs for poller tests, closed after each test, which must leave no fd behind. */
export interface SocketPairs {
  /** A new connected, non-blocking pair, closed after the test. */
  pair(): [number, number];
  /** Closes one end now (a peer dying mid-test). */
  closeFd(fd: number): void;
}

/** Call at the top of a test file: registers the hooks and returns the helpers. */
export function useSocketPairs(): SocketPairs {
  const open: number[] = [];
  let fdsBefore = 0;
  beforeEach(() => {
    fdsBefore = openFdCount();
  });
  afterEach(() => {
    for (const fd of open.splice(0)) sys.close(fd);
    expect(openFdCount(), 'fds leaked by this test').toBe(fdsBefore);
  });
  return {
    pair() {
      const [a, b] = sys.socketpair();
      open.push(a, b);
      return [a, b];
    },
    closeFd(fd) {
      open.splice(open.indexOf(fd), 1);
      sys.close(fd);
    },
  };
}
