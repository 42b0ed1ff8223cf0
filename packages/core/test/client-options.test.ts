import { describe, expect, it } from 'vitest';
import { clientSettings, type IpcClientOptions } from '../src/client/client-options.js';
import type { Poller } from '../src/contracts/poller.js';
import type { Transport } from '../src/contracts/transport.js';

const base: IpcClientOptions = { service: 'echo', poller: {} as Poller, transport: {} as Transport };

describe('client options', () => {
  it('fills in the defaults: no retry, reconnect off, reject while disconnected, wait when flow-controlled', () => {
    expect(clientSettings(base)).toMatchObject({
      maxMessage: 1024 * 1024,
      handshakeTimeout: 5000,
      expectServer: undefined,
      retry: undefined,
      reconnect: undefined,
      queueWhileDisconnected: false,
      queueLimit: 1024,
      sendQueueHighWater: 4 * 1024 * 1024,
      waitWhenFlowControlled: true,
    });
    expect(clientSettings({ ...base, retry: true, reconnect: true })).toMatchObject({
      retry: { deadline: 30_000, initialDelay: 50, maxDelay: 1000, waitForService: false },
      reconnect: { deadline: Infinity, initialDelay: 50, maxDelay: 1000, waitForService: false },
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
    ['retry.waitForService', { retry: { waitForService: 'yes' as never } }],
    ['expectServer.uid', { expectServer: { uid: -1 } }],
    ['expectServer', { expectServer: {} }],
  ])('refuses a bad %s with EINVAL naming it', (name, bad) => {
    expect(() => clientSettings({ ...base, ...bad })).toThrowError(
      expect.objectContaining({ code: 'EINVAL', message: expect.stringContaining(name) }),
    );
  });

  it.each<[string, Partial<IpcClientOptions>, string]>([
    ['a service id out of range', { service: 70_000 }, 'got the number 70000'],
    [
      'a timeout given as a string',
      { timeout: '5000' as never },
      'got the string "5000": pass the number 5000, not a string',
    ],
    [
      'a message size given as a string',
      { maxMessageSize: '4096' as never },
      'got the string "4096": pass the number 4096, not a string',
    ],
    ['a queue limit given as an object', { queueLimit: {} as never }, 'got an object'],
  ])('says what was given for %s', (_what, bad, message) => {
    expect(() => clientSettings({ ...base, ...bad })).toThrowError(
      expect.objectContaining({ code: 'EINVAL', message: expect.stringContaining(message) }),
    );
  });
});
