// nodeTimer, Poller.timer on Node's own timers, for poller authors (contracts layer).
import type { Poller, Timer } from './poller.js';

class NodeTimer implements Timer {
  constructor(private readonly handle: ReturnType<typeof setTimeout>) {}

  cancel(): void {
    clearTimeout(this.handle);
  }
}

class NodeImmediate implements Timer {
  constructor(private readonly handle: ReturnType<typeof setImmediate>) {}

  cancel(): void {
    clearImmediate(this.handle);
  }
}

/**
 * For poller authors whose fds are served by Node's own event loop: {@link Poller.timer} on
 * Node's timers. A 0 ms timer runs on the loop's next turn (`setImmediate`: after pending
 * promise continuations and I/O, without the 1 ms floor of `setTimeout`). A timer that is not
 * `keepAlive` is unreferenced, so it never holds the process open by itself.
 */
export function nodeTimer(ms: number, fn: () => void, keepAlive = false): Timer {
  if (ms <= 0) {
    const immediate = setImmediate(fn);
    if (!keepAlive) immediate.unref();
    return new NodeImmediate(immediate);
  }
  const handle = setTimeout(fn, ms);
  if (!keepAlive) handle.unref();
  return new NodeTimer(handle);
}
