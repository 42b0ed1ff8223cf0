// Typed clients of a contract, over IpcClient and SyncClient (client layer).
import type { IpcClient } from './client.js';
import type { RequestOptions } from './client-session.js';
import type { CommandContract, EventPayloadOf, RequestOf, ResponseOf, ServiceContract } from '../protocol/contract.js';
import { IpcError } from '../errors.js';
import type { SyncClient, SyncRequestOptions } from './sync-client.js';

/** The arguments of a typed call: the request, which may be left out when the command takes none (`void`), and options. */
export type ContractCallArgs<Request, Options> = [Request] extends [void]
  ? [request?: Request, options?: Options]
  : [request: Request, options?: Options];

/** One method per command of contract `S`, resolving with the decoded response. */
export type ContractCalls<S extends ServiceContract> = {
  readonly [Name in keyof S['commands']]: (
    ...args: ContractCallArgs<RequestOf<S['commands'][Name]>, RequestOptions>
  ) => Promise<ResponseOf<S['commands'][Name]>>;
};

/** One blocking method per command of contract `S`, returning the decoded response. */
export type ContractSyncCalls<S extends ServiceContract> = {
  readonly [Name in keyof S['commands']]: (
    ...args: ContractCallArgs<RequestOf<S['commands'][Name]>, SyncRequestOptions>
  ) => ResponseOf<S['commands'][Name]>;
};

/** A decoded event of contract `S`: its name and payload, a union over the events. */
export type ContractEvent<S extends ServiceContract> = {
  [Name in keyof S['events']]: { readonly name: Name; readonly payload: EventPayloadOf<S['events'][Name]> };
}[keyof S['events']];

/** Undoes a registration; calling it again does nothing. */
export interface Subscription {
  /** Removes the listener. Idempotent. */
  dispose(): void;
  /** The same, for `using subscription = …`. */
  [Symbol.dispose](): void;
}

/** Options of {@link contractClient}. */
export interface ContractClientOptions {
  /**
   * Called with an event whose payload did not decode (`EBADMSG`); the event is dropped. Default:
   * a process warning.
   */
  readonly onBadEvent?: (error: IpcError, event: number) => void;
}

/**
 * What {@link contractClient} needs of a client: an {@link IpcClient}, or one of the same shape
 * that reaches the service another way (`RemoteClient` of `@pollux/bridge-nats`, over NATS).
 */
export interface ContractTarget {
  /** The service's id, checked against the contract's. */
  readonly serviceId: number;
  /** The service's name, checked against the contract's. */
  readonly serviceName: string;
  /** Sends a request; rejects with an {@link IpcError}. */
  request(command: number, payload?: Uint8Array, options?: RequestOptions): Promise<Buffer>;
  /** Adds a listener of the service's events. */
  on(name: 'event', listener: (event: number, payload: Buffer) => void): unknown;
  /** Removes a listener of the service's events. */
  off(name: 'event', listener: (event: number, payload: Buffer) => void): unknown;
}

/** The typed face of an {@link IpcClient} (or another {@link ContractTarget}) for contract `S`; made by {@link contractClient}. */
export interface ContractClient<S extends ServiceContract, C extends ContractTarget = IpcClient> {
  /** `call.name(request, options)` sends command `name` and resolves with its decoded response. */
  readonly call: ContractCalls<S>;
  /**
   * Calls `listener` with the decoded payload of each event `name`. The subscriptions of one
   * contract client share one `'event'` listener on the client, added with the first and
   * removed with the last: they run in the order they were made, at that listener's place among
   * the client's others, and `client.removeAllListeners('event')` ends them all.
   *
   * @returns the subscription, to remove the listener
   * @throws {@link IpcError} `EINVAL` when the contract has no such event.
   */
  on<Name extends keyof S['events'] & string>(
    name: Name,
    listener: (payload: EventPayloadOf<S['events'][Name]>) => void,
  ): Subscription;
  /** The untyped client underneath, for everything else (close, stats, flow control). */
  readonly client: C;
}

/** The typed face of a {@link SyncClient} for contract `S`; made by {@link contractSyncClient}. */
export interface ContractSyncClient<S extends ServiceContract> {
  /** `call.name(request, options)` sends command `name` and blocks until its decoded response. */
  readonly call: ContractSyncCalls<S>;
  /**
   * Takes the oldest queued event, decoded, waiting up to `timeoutMs` for one (see
   * {@link SyncClient.nextEvent}).
   *
   * @throws {@link IpcError} `EBADMSG` for an event that did not decode or that the contract does not name (it is dropped).
   */
  nextEvent(timeoutMs?: number): ContractEvent<S> | undefined;
  /** The untyped client underneath. */
  readonly client: SyncClient;
}

/** Whether `connected` talks to the service of `contract`. */
function checkService(contract: ServiceContract, serviceId: number, serviceName: string): void {
  if (serviceId !== contract.id || serviceName !== contract.name) {
    throw new IpcError(
      'EPROTO',
      `client talks to service "${serviceName}" (id ${serviceId}), not "${contract.name}" (id ${contract.id}) of the contract: connect to the contract's service`,
    );
  }
}

/** Commands of `contract` as methods, by name, each making its call with `send`. */
function callsOf<S extends ServiceContract, Options, Answer>(
  contract: S,
  send: (command: CommandContract<unknown, unknown>, request: unknown, options: Options | undefined) => Answer,
): Record<string, (request?: unknown, options?: Options) => Answer> {
  const calls: Record<string, (request?: unknown, options?: Options) => Answer> = {};
  for (const [name, command] of Object.entries(contract.commands) as [string, CommandContract<unknown, unknown>][]) {
    calls[name] = (request, options) => send(command, request, options);
  }
  return calls;
}

/**
 * Typed calls and events over `client`, which must be connected to `contract`'s service:
 * `await kv.call.get('key')` resolves with the response type of `get`, with no cast.
 *
 * @throws {@link IpcError} `EPROTO` when `client` talks to another service. Calls reject as
 * {@link IpcClient.request} does, and with `EBADMSG` when a response does not decode.
 */
export function contractClient<S extends ServiceContract, C extends ContractTarget = IpcClient>(
  client: C,
  contract: S,
  options: ContractClientOptions = {},
): ContractClient<S, C> {
  checkService(contract, client.serviceId, client.serviceName);
  const calls = callsOf(contract, (command, request, requestOptions: RequestOptions | undefined) => {
    let payload: Uint8Array;
    try {
      payload = command.request.encode(request);
    } catch (error) {
      return Promise.reject(IpcError.from(error, 'EINVAL'));
    }
    return client.request(command.id, payload, requestOptions).then((answer) => command.response.decode(answer));
  });
  const reportBadEvent =
    options.onBadEvent ??
    ((error: IpcError, event: number) =>
      process.emitWarning(
        `pollux: event ${event} of "${contract.name}" dropped: ${error.message}`,
        'IpcContractWarning',
      ));
  // One 'event' listener on the client for all subscriptions, there while any is: one per
  // subscription would trip Node's warning at 11, though the application added none itself. The
  // lists are replaced, never changed: an event goes to the subscriptions there when it came, as
  // EventEmitter does, whatever its listeners add or dispose.
  const subscribers = new Map<number, readonly ((payload: Buffer) => void)[]>();
  let subscriptions = 0;
  const dispatch = (id: number, payload: Buffer): void => {
    const forId = subscribers.get(id);
    if (forId !== undefined) for (const deliver of forId) deliver(payload);
  };
  return {
    call: calls as ContractCalls<S>,
    client,
    on(name, listener) {
      const entry = Object.entries(contract.events).find(([eventName]) => eventName === name);
      if (entry === undefined) throw new IpcError('EINVAL', `contract "${contract.name}" has no event "${name}"`);
      const [, event] = entry;
      const deliver = (payload: Buffer): void => {
        let value: unknown;
        try {
          value = event.payload.decode(payload);
        } catch (error) {
          reportBadEvent(IpcError.from(error, 'EBADMSG'), event.id);
          return;
        }
        listener(value as EventPayloadOf<S['events'][typeof name]>);
      };
      subscribers.set(event.id, [...(subscribers.get(event.id) ?? []), deliver]);
      if (subscriptions++ === 0) client.on('event', dispatch);
      let subscribed = true;
      const dispose = (): void => {
        if (!subscribed) return;
        subscribed = false;
        const rest = (subscribers.get(event.id) ?? []).filter((other) => other !== deliver);
        if (rest.length === 0) subscribers.delete(event.id);
        else subscribers.set(event.id, rest);
        if (--subscriptions === 0) client.off('event', dispatch);
      };
      return { dispose, [Symbol.dispose]: dispose };
    },
  };
}

/**
 * Typed blocking calls and events over `client`, which must be connected to `contract`'s service:
 * `kv.call.get('key')` returns the response type of `get`, with no cast and no event loop turn.
 *
 * @throws {@link IpcError} `EPROTO` when `client` talks to another service. Calls throw as
 * {@link SyncClient.request} does, and `EBADMSG` when a response does not decode.
 */
export function contractSyncClient<S extends ServiceContract>(client: SyncClient, contract: S): ContractSyncClient<S> {
  checkService(contract, client.serviceId, client.serviceName);
  const events = new Map(Object.entries(contract.events).map(([name, event]) => [event.id, [name, event] as const]));
  const calls = callsOf(contract, (command, request, options: SyncRequestOptions | undefined) =>
    command.response.decode(client.request(command.id, command.request.encode(request), options)),
  );
  return {
    call: calls as ContractSyncCalls<S>,
    client,
    nextEvent(timeoutMs) {
      const received = client.nextEvent(timeoutMs);
      if (received === undefined) return undefined;
      const known = events.get(received.event);
      if (known === undefined)
        throw new IpcError(
          'EBADMSG',
          `event ${received.event} is not in contract "${contract.name}": do both ends use the same contract?`,
        );
      const [name, event] = known;
      return { name, payload: event.payload.decode(received.payload) } as ContractEvent<S>;
    },
  };
}
