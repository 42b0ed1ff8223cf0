// implementContract: a service definition from a typed contract (server layer).
import type { Connection } from './connection.js';
import { IpcError } from '../errors.js';
import type {
  CommandContract,
  EventContract,
  EventPayloadOf,
  RequestOf,
  ResponseOf,
  ServiceContract,
} from '../protocol/contract.js';
import type { CommandHandler, ServiceDefinition } from './service.js';

/** The typed handler of one command: gets the decoded request, returns the response (or a promise of it). */
export type ContractHandler<C extends CommandContract<unknown, unknown>, Context> = (
  request: RequestOf<C>,
  connection: Connection<Context>,
) => ResponseOf<C> | PromiseLike<ResponseOf<C>>;

/** A handler for every command of contract `S`, by command name. */
export type ContractHandlers<S extends ServiceContract, Context> = {
  readonly [Name in keyof S['commands']]: ContractHandler<S['commands'][Name], Context>;
};

/** What {@link implementContract} needs: the handlers, and the service hooks as in a `ServiceDefinition`. */
export type ContractImplementation<S extends ServiceContract, Context> = Omit<
  ServiceDefinition<Context>,
  'id' | 'name' | 'commands'
> & {
  /** One handler per command of the contract. */
  readonly handlers: ContractHandlers<S, Context>;
};

/**
 * Makes the service definition of `contract` for `IpcServer.addService`: each request is decoded
 * with its command's codec before the handler sees it, and the handler's answer encoded with the
 * response codec. A request that does not decode never reaches the handler: the client gets the
 * codec's `EBADMSG`, and the service's `badMessages` counter counts it.
 *
 * @throws {@link IpcError} `EINVAL` when a command has no handler.
 */
export function implementContract<S extends ServiceContract, Context = undefined>(
  contract: S,
  implementation: ContractImplementation<S, Context>,
): ServiceDefinition<Context> {
  const { handlers, ...hooks } = implementation;
  const commands: Record<number, CommandHandler<Context>> = {};
  for (const [name, command] of Object.entries(contract.commands)) {
    const handler = (
      handlers as Record<string, ContractHandler<CommandContract<unknown, unknown>, Context> | undefined>
    )[name];
    if (typeof handler !== 'function')
      throw new IpcError('EINVAL', `no handler for command "${name}" of service "${contract.name}"`);
    commands[command.id] = typedHandler(command, handler);
  }
  return { ...hooks, id: contract.id, name: contract.name, commands };
}

function typedHandler<Context>(
  command: CommandContract<unknown, unknown>,
  handler: ContractHandler<CommandContract<unknown, unknown>, Context>,
): CommandHandler<Context> {
  const { request, response } = command;
  return (payload, connection) => {
    const result = handler(request.decode(payload), connection);
    if (result === null || typeof result !== 'object' || typeof (result as PromiseLike<unknown>).then !== 'function')
      return response.encode(result);
    return Promise.resolve(result as PromiseLike<unknown>).then((value) => response.encode(value));
  };
}

/** An encoded event, ready to spread into `sendEvent(...)` or `broadcast(...)`. */
export type EncodedEvent = readonly [event: number, payload: Uint8Array];

/** An encoder per event of contract `S`, by event name. */
export type ContractEventEncoders<S extends ServiceContract> = {
  readonly [Name in keyof S['events']]: (payload: EventPayloadOf<S['events'][Name]>) => EncodedEvent;
};

/**
 * Typed event encoders for the server side of `contract`:
 * `connection.sendEvent(...events.changed({ key }))`, or
 * `service.broadcast(...events.changed({ key }), filter)`, which encodes once for every connection.
 */
export function contractEvents<S extends ServiceContract>(contract: S): ContractEventEncoders<S> {
  const encoders: Record<string, (payload: unknown) => EncodedEvent> = {};
  for (const [name, event] of Object.entries(contract.events) as [string, EventContract<unknown>][]) {
    encoders[name] = (payload) => [event.id, event.payload.encode(payload)];
  }
  return encoders as ContractEventEncoders<S>;
}
