// drive.ts for a pump in poll(2) mode: the conformance suite's child processes load it by path.
import { PumpPoller } from '../src/index.js';

export { drivePoller, fds } from './drive.js';

export function createPoller(): PumpPoller {
  return new PumpPoller({ wait: 'poll' });
}
