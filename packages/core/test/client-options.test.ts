import { describe, expect, it } from 'vitest';
import { clientSettings, type IpcClientOptions } from '../src/client-options.js';
import type { Poller } from '../src/poller.js';
import type { Transport } from '../src/transport.js';

const base: IpcClientOptions = { service: 'echo', poller: {} as Poller, transport: {} as Transport };

describe('client options', () => {
  it('fills in the defaults: no retry, reconnect off, reject while disconnected, wait when flow-controlled', () => {
    expect(clientSettings(base)).toMatchObject({
      handshakeTimeout: 5000,
      retry: undefined,
      reconnect: undefined,
      queueWhileDisconnected: false,
      queueLimit: 1024,
      sendQueueHighWater: 4 * 1024 * 1024,
      waitWhenFlowControlled: true,
    });
    expect(clientSettings({ ...base, retry: true, reconnect: true })).toMatchObject({
      retry: { deadline: 30_000, initialDelay: 50, maxDelay: 1000 },
      reconnect: { deadline: Infinity, initialDelay: 50, maxDelay: 1000 },
    });
  });

  it.each<[string, Partial<IpcClientOptions>]>([
    ['service', { service: '' }],
    ['service', { service: 70_000 }],
    ['maxMessageSize', { maxMessageSize: 0 }],
    ['timeout', { timeout: Infinity }],
    ['retry.deadline', { retry: { deadline: -1 } }],
    ['reconnect.maxDelay', { reconnect: { initialDelay: 100, maxDelay: 10 } }],
    ['whileDisconnected', { whileDisconnected: 'drop' as 'queue' }],
    ['queueLimit', { queueLimit: 1.5 }],
    ['sendQueueHighWater', { sendQueueHighWater: -1 }],
    ['whenFlowControlled', { whenFlowControlled: 'block' as 'wait' }],
  ])('refuses a bad %s with EINVAL naming it', (name, bad) => {
    expect(() => clientSettings({ ...base, ...bad })).toThrowError(expect.objectContaining({ code: 'EINVAL', message: expect.stringContaining(name) }));
  });
});
