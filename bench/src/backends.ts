/**
 * The poller backends pollux runs on in the backend comparison, and how a bench process starts
 * and stops one. Server and client of a run always use the same backend, so a run measures one
 * backend at both ends.
 */
import { defaultPoller, type Poller } from 'pollux';

export type Backend = 'node' | 'epoll' | 'pump' | 'pump-poll';

export const BACKENDS: readonly Backend[] = ['node', 'epoll', 'pump', 'pump-poll'];

/** The class each backend name stands for, as the tables print it. */
export const POLLER_CLASS: Record<Backend, string> = {
  node: 'NodePoller',
  epoll: 'EpollPoller',
  pump: 'PumpPoller',
  'pump-poll': 'PumpPoller (poll)',
};

export function isBackend(name: string): name is Backend {
  return (BACKENDS as readonly string[]).includes(name);
}

/** A poller in use by this process, and how to let go of it so the process can exit. */
export interface RunningPoller {
  readonly poller: Poller;
  stop(): void;
}

/**
 * The longest one pump may block in poll(2). A bench process only serves IPC, so blocking is
 * what a dedicated IPC process would do; the bound keeps Node's own loop turning a few times a
 * second while idle (stdin closing, SIGTERM, timers) without busy-waiting.
 */
const PUMP_TIMEOUT_MS = 50;

/**
 * Starts a poller of `backend`. The epoll and pump packages are imported only when asked for:
 * loading the npm `epoll` binding starts a watcher thread for the whole process, which the
 * NodePoller runs (the pollux side of the pollux vs node:net comparison) must not carry.
 */
export async function startPoller(backend: Backend): Promise<RunningPoller> {
  switch (backend) {
    case 'node':
      // The very poller `createServer()` and `connect()` use when given none.
      return { poller: defaultPoller(), stop: () => undefined };
    case 'epoll': {
      // Runs by itself: the binding's thread wakes Node's loop for every event.
      const { EpollPoller } = await import('@pollux/poll-epoll');
      const poller = new EpollPoller();
      return { poller, stop: () => poller.close() };
    }
    case 'pump':
    case 'pump-poll': {
      // The pump waits in epoll by default; 'pump-poll' is its poll(2) mode, for the fd-count curve.
      const { PumpPoller, pumpOnNodeLoop } = await import('@pollux/poll-pump');
      const poller = new PumpPoller({ wait: backend === 'pump' ? 'epoll' : 'poll' });
      const stopPumping = pumpOnNodeLoop(poller, PUMP_TIMEOUT_MS);
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
