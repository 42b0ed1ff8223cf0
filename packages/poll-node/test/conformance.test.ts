import { fileURLToPath } from 'node:url';
import { describePollerConformance } from '@pollux/core/testing';
import * as sys from '@pollux/sys';
import { NodePoller } from '../src/index.js';

describePollerConformance({
  name: 'NodePoller',
  create: () => new NodePoller(),
  fds: sys,
  exitModule: fileURLToPath(new URL('./conformance-module.ts', import.meta.url)),
});
