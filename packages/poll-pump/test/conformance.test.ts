import { describePollerConformance } from '@pollux/core/testing';
import { fileURLToPath } from 'node:url';
import * as epollMode from './drive.js';
import * as pollMode from './drive-poll.js';

describePollerConformance({
  name: 'PumpPoller (epoll)',
  create: epollMode.createPoller,
  fds: epollMode.fds,
  drive: epollMode.drivePoller,
  exitModule: fileURLToPath(new URL('./drive.ts', import.meta.url)),
});

describePollerConformance({
  name: 'PumpPoller (poll)',
  create: pollMode.createPoller,
  fds: pollMode.fds,
  drive: pollMode.drivePoller,
  exitModule: fileURLToPath(new URL('./drive-poll.ts', import.meta.url)),
});
