// Diagnostics channels: what a tracer subscribed to `pollux:server:*` sees of real traffic.
import diagnosticsChannel from 'node:diagnostics_channel';
import type {
  ConnectionCloseMessage,
  ConnectionOpenMessage,
  ProtocolErrorMessage,
  RequestFinishMessage,
  RequestStartMessage,
} from '@pollux/core';
import { IpcError } from 'pollux';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { backendMatrix, useBackends } from './support/backends.js';
import { frame } from './support/frames.js';
import { rawSocket } from './support/raw-socket.js';
import type { TestServer } from './support/server.js';

const NAMES = [
  'pollux:server:connection:open',
  'pollux:server:connection:close',
  'pollux:server:request:start',
  'pollux:server:request:finish',
  'pollux:server:protocol-error',
] as const;

describe.each(backendMatrix)('diagnostics channels, server on $server, clients on $client', (pair) => {
  const backends = useBackends(pair);
  let running: TestServer;
  let seen: { name: string; message: unknown }[];
  const listeners = new Map<string, (message: unknown) => void>();

  beforeEach(async () => {
    seen = [];
    for (const name of NAMES) {
      const listener = (message: unknown): void => {
        seen.push({ name, message });
      };
      listeners.set(name, listener);
      diagnosticsChannel.subscribe(name, listener);
    }
    running = await backends.startServerOn((server) =>
      server.addService({
        id: 1,
        name: 'traced',
        commands: {
          1: (payload) => payload,
          2: () => {
            throw new IpcError('EPERM', 'not you');
          },
          3: async (payload) => payload,
        },
      }),
    );
  });

  afterEach(async () => {
    for (const [name, listener] of listeners) diagnosticsChannel.unsubscribe(name, listener);
    listeners.clear();
    await running.stop();
  });

  const of = <T>(name: string): T[] => seen.filter((entry) => entry.name === name).map((entry) => entry.message as T);

  it('publishes a connection’s open and close, and each request’s start and finish with its outcome', async () => {
    const client = await backends.connectTo(running.address, 'traced');
    await client.request(1, Buffer.from('sync'));
    await expect(client.request(2)).rejects.toMatchObject({ code: 'EPERM' });
    await client.request(3, Buffer.from('async'));
    await expect(client.request(9)).rejects.toMatchObject({ code: 'ENOSYS' });
    await client.close();
    // Every connection has ended once the server has closed.
    await running.stop();

    const opens = of<ConnectionOpenMessage>('pollux:server:connection:open');
    expect(opens.map((message) => message.serviceName)).toEqual(['traced']);
    const first = opens[0]!.connection;
    const starts = of<RequestStartMessage>('pollux:server:request:start').filter((m) => m.connection === first);
    expect(starts.map((message) => [message.command, message.size])).toEqual([
      [1, 4],
      [2, 0],
      [3, 5],
      [9, 0],
    ]);
    const finishes = of<RequestFinishMessage>('pollux:server:request:finish').filter((m) => m.connection === first);
    expect(finishes.map((message) => [message.command, message.error?.code])).toEqual([
      [1, undefined],
      [2, 'EPERM'],
      [3, undefined],
      [9, 'ENOSYS'],
    ]);
    // Each finish pairs with its start by id.
    expect(finishes.map((message) => message.id)).toEqual(starts.map((message) => message.id));
    const closes = of<ConnectionCloseMessage>('pollux:server:connection:close');
    expect(closes.find((message) => message.connection === first)?.reason.code).toBe('ESHUTDOWN');
    expect(of('pollux:server:protocol-error')).toEqual([]);
  });

  it('publishes a protocol error with the peer’s pid, and no open for a peer that never finished a handshake', async () => {
    const raw = rawSocket(running.address);
    await raw.connected;
    raw.socket.write(frame(99, 0, 0, Buffer.alloc(0)));
    await raw.closed;
    await running.stop();
    const errors = of<ProtocolErrorMessage>('pollux:server:protocol-error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.error.code).toBe('EPROTO');
    expect(errors[0]!.pid).toBe(process.pid);
    expect(of('pollux:server:connection:open')).toEqual([]);
    expect(of('pollux:server:connection:close')).toEqual([]);
  });
});
