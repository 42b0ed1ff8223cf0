// pumpOnNodeLoop: drives a PumpPoller from Node's own loop, one pump per turn.
import type { PumpPoller } from './pump-poller.js';

/**
 * Drives `poller` from Node's own loop: one `pump(timeoutMs)` per turn, scheduled with
 * `setImmediate`. For a process whose only job is IPC, or tests; a host with a loop of its own
 * calls {@link PumpPoller.pump} from that loop instead.
 *
 * Each turn blocks in its wait for at most `timeoutMs` when nothing is ready (less when a
 * pollux timer is due sooner: those run inside the pump), so Node's own timers, promises and
 * other I/O run between pumps, at most that late. pollux needs that: the client hands on frames
 * that came with the handshake through `setImmediate`, and its promises settle on Node's loop.
 *
 * @param poller - the poller to drive
 * @param timeoutMs - longest wait in one pump, in ms (default 1)
 * @returns a function that stops the driving; safe to call from inside a pump
 */
export function pumpOnNodeLoop(poller: PumpPoller, timeoutMs = 1): () => void {
  let driving = true;
  const turn = (): void => {
    // Checked before pumping: stop() may have been called from inside the previous pump.
    if (!driving) return;
    try {
      poller.pump(timeoutMs);
    } finally {
      // A dispatch that threw must not stop the pumping: the error surfaces, the loop goes on.
      setImmediate(turn);
    }
  };
  setImmediate(turn);
  return () => {
    driving = false;
  };
}
