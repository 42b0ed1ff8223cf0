import { describePollerConformance } from '@pollux/core/testing';
import { fileURLToPath } from 'node:url';
import { createPoller, drivePoller, fds } from './drive.js';

describePollerConformance({
  name: 'PumpPoller',
  create: createPoller,
  fds,
  drive: drivePoller,
  exitModule: fileURLToPath(new URL('./drive.ts', import.meta.url)),
});
