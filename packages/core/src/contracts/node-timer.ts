// nodeTimer, Poller.timer on Node's own timers, for poller authors (contracts layer).
import type { Poller, Timer } from './poller.js';

class NodeTimer implements Timer {
  constructor(private readonly handle: ReturnType<typeof setTimeout>) {}

  cancel(): void {
    clearTimeout(this.handle);
  }
}

/**
 * For poller authors whose fds are served by Node's own event loop: {@link Poller.timer} on
 * Node's timers. A timer that is not `keepAlive` is unreferenced, so it never holds the process
 * open by itself.
 */
export function nodeTimer(ms: number, fn: () => void, keepAlive = false): Timer {
  const handle = setTimeout(fn, ms);
  if (!keepAlive) handle.unref();
  return new NodeTimer(handle);
}
