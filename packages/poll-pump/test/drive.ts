// A PumpPoller driven the way a host that keeps Node's loop turning would: one short pump per
// setImmediate. Shared by the conformance suite and the child process of its exit test.
import * as sys from '@pollux/sys';
import type { Poller } from '@pollux/core';
import { PumpPoller, pumpOnNodeLoop } from '../src/index.js';

export const fds = sys;

/** A pump in its default mode, epoll. */
export function createPoller(): PumpPoller {
  return new PumpPoller();
}

export function drivePoller(poller: Poller): () => void {
  return pumpOnNodeLoop(poller as PumpPoller);
}
