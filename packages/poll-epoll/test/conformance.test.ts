import { fileURLToPath } from 'node:url';
import { describePollerConformance } from '@pollux/core/testing';
import * as sys from '@pollux/sys';
import { EpollPoller } from '../src/index.js';

describePollerConformance({
  name: 'EpollPoller',
  create: () => new EpollPoller(),
  fds: sys,
  exitModule: fileURLToPath(new URL('./fixtures/conformance-module.ts', import.meta.url)),
});
