// Type tests: `tsc -p test` (npm run typecheck) fails when a typed contract accepts wrong use or
// loses a type. The calls sit in functions that never run; vitest only checks the file loads.
import {
  contractClient,
  contractEvents,
  contractSyncClient,
  implementContract,
  type Connection,
  type ContractEvent,
  type IpcClient,
  type ServiceDefinition,
  type SyncClient,
} from 'pollux';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { notes } from './support/notes-contract.js';

type Note = { title: string; body: string };

describe('typed contract types', () => {
  it('types calls, handlers and events from the contract alone', () => {
    expectTypeOf(async (client: IpcClient) => {
      const typed = contractClient(client, notes);
      expectTypeOf(typed.call.put).parameter(0).toEqualTypeOf<Note>();
      expectTypeOf(await typed.call.put({ title: 't', body: 'b' })).toEqualTypeOf<number>();
      expectTypeOf(await typed.call.get('t')).toEqualTypeOf<Note | null>();
      expectTypeOf(await typed.call.histogram()).toEqualTypeOf<Map<number, number>>();
      typed.on('stored', (event) => expectTypeOf(event).toEqualTypeOf<{ title: string; by: number }>());
      // @ts-expect-error -- a request of the wrong type
      await typed.call.get(42);
      // @ts-expect-error -- a missing field
      await typed.call.put({ title: 't' });
      // @ts-expect-error -- no such command
      await typed.call.delete('t');
      // @ts-expect-error -- no such event
      typed.on('deleted', () => undefined);
      // @ts-expect-error -- the request is required when the command takes one
      await typed.call.get();
    }).toBeFunction();

    expectTypeOf((client: SyncClient) => {
      const typed = contractSyncClient(client, notes);
      expectTypeOf(typed.call.get('t')).toEqualTypeOf<Note | null>();
      expectTypeOf(typed.nextEvent()).toEqualTypeOf<ContractEvent<typeof notes> | undefined>();
      const event = typed.nextEvent();
      if (event?.name === 'stored') expectTypeOf(event.payload).toEqualTypeOf<{ title: string; by: number }>();
      if (event?.name === 'garbled') expectTypeOf(event.payload).toEqualTypeOf<{ n: number }>();
      // @ts-expect-error -- a blocking call returns the value, not a promise
      void typed.call.get('t').then;
    }).toBeFunction();

    const definition = implementContract(notes, {
      createContext: () => ({ puts: 0 }),
      handlers: {
        put: (note, connection) => {
          expectTypeOf(note).toEqualTypeOf<Note>();
          expectTypeOf(connection).toEqualTypeOf<Connection<{ puts: number }>>();
          return ++connection.context.puts;
        },
        get: async () => null,
        histogram: () => new Map<number, number>(),
      },
    });
    expectTypeOf(definition).toEqualTypeOf<ServiceDefinition<{ puts: number }>>();

    implementContract(notes, {
      // @ts-expect-error -- a handler answering the wrong type
      handlers: { put: () => 'one', get: () => null, histogram: () => new Map() },
    });
    // The type error has a run-time twin, for callers that cast their way past it.
    // @ts-expect-error -- a command without a handler
    expect(() => implementContract(notes, { handlers: { put: () => 1, get: () => null } })).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );

    const events = contractEvents(notes);
    expectTypeOf(events.stored).parameter(0).toEqualTypeOf<{ title: string; by: number }>();
    // @ts-expect-error -- an event payload of the wrong type
    expectTypeOf(() => events.stored({ title: 1, by: 2 })).toBeFunction();
  });
});
