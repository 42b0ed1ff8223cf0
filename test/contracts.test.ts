import {
  contractClient,
  contractEvents,
  implementContract,
  IpcError,
  type HostedService,
  type IpcServer,
  type ServiceStats,
} from 'pollux';
import { describe, expect, it, onTestFinished } from 'vitest';
import { backendMatrix, useBackends } from './support/backends.js';
import { notes } from './support/notes-contract.js';
import { until } from './support/server.js';

type Note = { title: string; body: string };

describe.each(backendMatrix)('typed service contracts, server on $server, clients on $client', (pair) => {
  const backends = useBackends(pair);
  /** `notes` with handlers that answer nothing useful, for tests of its events. */
  const hostStubNotes = (server: IpcServer): HostedService =>
    server.addService(
      implementContract(notes, { handlers: { put: () => 0, get: () => null, histogram: () => new Map() } }),
    );

  it('gives typed calls and events end to end, and refuses undecodable requests with a counted EBADMSG', async () => {
    const events = contractEvents(notes);
    let service!: HostedService<Map<string, Note>>;
    const test = await backends.startServerOn((server) => {
      service = server.addService(
        implementContract(notes, {
          createContext: () => new Map<string, Note>(),
          handlers: {
            put: (note, connection) => {
              connection.context.set(note.title, note);
              service.broadcast(...events.stored({ title: note.title, by: connection.id }));
              return connection.context.size;
            },
            get: (title, connection) => connection.context.get(title) ?? null,
            histogram: (_request, connection) => {
              const counts = new Map<number, number>();
              for (const title of connection.context.keys())
                counts.set(title.length, (counts.get(title.length) ?? 0) + 1);
              return counts;
            },
          },
        }),
      );
    });
    const raw = await backends.connectTo(test.address, 'notes');
    const typed = contractClient(raw, notes);
    const stored: { title: string; by: number }[] = [];
    const subscription = typed.on('stored', (event) => stored.push(event));

    expect(await typed.call.put({ title: 'one', body: 'first' })).toBe(1);
    expect(await typed.call.put({ title: 'three', body: 'third' })).toBe(2);
    expect(await typed.call.get('one')).toEqual({ title: 'one', body: 'first' });
    expect(await typed.call.get('none')).toBeNull();
    expect(await typed.call.histogram()).toEqual(
      new Map([
        [3, 1],
        [5, 1],
      ]),
    );
    await until(() => stored.length === 2);
    expect(stored.map((event) => event.title)).toEqual(['one', 'three']);

    // The raw API still works, and a payload that fails the schema never reaches the handler.
    const refusal = await raw
      .request(notes.commands.put.id, Buffer.from(JSON.stringify({ title: '', body: 7 })))
      .catch((error: IpcError) => error);
    expect(refusal).toBeInstanceOf(IpcError);
    expect((refusal as IpcError).code).toBe('EBADMSG');
    expect((refusal as IpcError).message).toMatch(/title: .*body: /);
    expect(
      await raw.request(notes.commands.put.id, Buffer.from('{not json')).catch((error: IpcError) => error.code),
    ).toBe('EBADMSG');
    const stats = test.server.stats().services.find((s) => s.name === 'notes') as ServiceStats;
    expect([stats.badMessages, stats.errors, stats.protocolErrors]).toEqual([2, 2, 0]);
    expect(raw.isOpen).toBe(true);
    expect(await typed.call.get('three')).toEqual({ title: 'three', body: 'third' });

    subscription.dispose();
    subscription.dispose();
    await typed.call.put({ title: 'four', body: '' });
    expect(stored).toHaveLength(2);
    await raw.close();
    await test.stop();
  });

  it('delivers to every subscription through one listener on the client, so many raise no warning', async () => {
    const events = contractEvents(notes);
    let service!: HostedService;
    const test = await backends.startServerOn((server) => {
      service = hostStubNotes(server);
    });
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning);
    process.on('warning', onWarning);
    onTestFinished(() => void process.off('warning', onWarning));
    const raw = await backends.connectTo(test.address, 'notes');
    const typed = contractClient(raw, notes);
    const seen: number[] = [];
    const subscriptions = Array.from({ length: 12 }, (_, i) => typed.on('stored', () => seen.push(i)));
    expect(raw.listenerCount('event')).toBe(1);
    service.broadcast(...events.stored({ title: 'a', by: 0 }));
    await until(() => seen.length === 12);
    expect(seen).toEqual(Array.from({ length: 12 }, (_, i) => i));

    for (const subscription of subscriptions.slice(1)) subscription.dispose();
    expect(raw.listenerCount('event')).toBe(1);
    service.broadcast(...events.stored({ title: 'b', by: 0 }));
    await until(() => seen.length === 13);
    expect(seen[12]).toBe(0);
    subscriptions[0]!.dispose();
    expect(raw.listenerCount('event')).toBe(0);
    // A warning is emitted on the next tick: a round trip later it would have come.
    await typed.call.get('a');
    expect(warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning')).toEqual([]);
    await raw.close();
    await test.stop();
  });

  it('reports an event that does not decode and drops it; refuses a client of another service', async () => {
    const events = contractEvents(notes);
    let service!: HostedService;
    const test = await backends.startServerOn((server) => {
      service = hostStubNotes(server);
      server.addService({ id: 13, name: 'other', commands: {} });
    });
    const bad: [string, number][] = [];
    const typed = contractClient(await backends.connectTo(test.address, 'notes'), notes, {
      onBadEvent: (error, event) => bad.push([error.code, event]),
    });
    const stored: string[] = [];
    typed.on('stored', (event) => stored.push(event.title));
    // An event id of the contract, with a payload its schema refuses.
    service.broadcast(notes.events.stored.id, Buffer.from('{"title":5}'));
    service.broadcast(...events.stored({ title: 'fine', by: 0 }));
    await until(() => stored.length === 1);
    expect(bad).toEqual([['EBADMSG', notes.events.stored.id]]);
    expect(stored).toEqual(['fine']);

    const other = await backends.connectTo(test.address, 'other');
    expect(() => contractClient(other, notes)).toThrow(expect.objectContaining({ code: 'EPROTO' }));
    await Promise.all([typed.client.close(), other.close()]);
    await test.stop();
  });
});
