// A PumpPoller driven the way a host that keeps Node's loop turning would: one short pump per
// setImmediate. Shared by the conformance suite and the child process of its exit test.
import * as sys from '@pollux/sys';
import type { Poller } from '@pollux/core';
import { PumpPoller } from '../src/index.js';

export const fds = sys;

export function createPoller(): PumpPoller {
  return new PumpPoller();
}

export function drivePoller(poller: Poller): () => void {
  let driving = true;
  const turn = (): void => {
    if (!driving) return;
    (poller as PumpPoller).pump(1);
    setImmediate(turn); // checked at the top, since stop() may be called from inside the pump
  };
  setImmediate(turn);
  return () => {
    driving = false;
  };
}
