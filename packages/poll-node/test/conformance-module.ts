// What the conformance kit's exit test runs in a child process.
import * as fds from '@pollux/sys';
import { NodePoller } from '../src/index.js';

export { fds };

export function createPoller(): NodePoller {
  return new NodePoller();
}
