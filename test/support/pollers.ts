// Kept apart from backends.ts, which needs vitest: fixture processes import this file.
import type { Poller } from '@pollux/core';
import { EpollPoller } from '@pollux/poll-epoll';
import { NodePoller } from '@pollux/poll-node';
import { PumpPoller, pumpOnNodeLoop } from '@pollux/poll-pump';

/** The poller backends every end-to-end test runs on. */
export type BackendName = 'node' | 'epoll' | 'pump';

/** A poller and how to let go of it. */
export interface RunningPoller {
  readonly poller: Poller;
  stop(): void;
}

/** Makes a running poller of `name`. A pump is driven from Node's loop, blocking at most 1 ms a turn. */
export function startPoller(name: BackendName): RunningPoller {
  switch (name) {
    case 'node':
      return { poller: new NodePoller(), stop: () => undefined };
    case 'epoll': {
      const poller = new EpollPoller();
      return { poller, stop: () => poller.close() };
    }
    case 'pump': {
      const poller = new PumpPoller();
      const stopPumping = pumpOnNodeLoop(poller);
      return {
        poller,
        stop: () => {
          stopPumping();
          poller.close();
        },
      };
    }
  }
}

/** For fixture processes: the poller named by `POLLUX_POLLER` (default: Node's loop). */
const BACKENDS: readonly string[] = ['node', 'epoll', 'pump'];

export function pollerFromEnvironment(): RunningPoller {
  const name = process.env['POLLUX_POLLER'] ?? 'node';
  if (!BACKENDS.includes(name)) throw new Error(`POLLUX_POLLER=${name} is not one of ${BACKENDS.join(', ')}`);
  return startPoller(name as BackendName);
}
