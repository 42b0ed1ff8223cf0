// Service contracts: a service's commands and events with their codecs, shared by both
// sides (protocol layer).
import type { Codec, CodecValue } from './codec.js';
import { IpcError } from '../errors.js';
import { isUint16 } from './frame.js';
import { SERVICE_NAME_MAX } from './handshake.js';

/** One command of a contract: its id and how its request and its response travel. */
export interface CommandContract<Request = unknown, Response = unknown> {
  /** Command id, 0–65535, unique within the service. */
  readonly id: number;
  /** How the request travels. */
  readonly request: Codec<Request>;
  /** How the response travels. */
  readonly response: Codec<Response>;
}

/** One event of a contract: its id and how its payload travels. */
export interface EventContract<Payload = unknown> {
  /** Event id, 0–65535, unique within the service. */
  readonly id: number;
  /** How the payload travels. */
  readonly payload: Codec<Payload>;
}

/**
 * What server and client agree on for one service: its id and name, its commands and its
 * events, each with a name for code and an id for the wire. Define it once with
 * {@link defineContract}, in a module both sides import.
 */
export interface ServiceContract {
  /** Service id, 0–65535. */
  readonly id: number;
  /** Service name, 1–255 UTF-8 bytes; clients connect by it. */
  readonly name: string;
  /** The commands, by name. */
  readonly commands: { readonly [name: string]: CommandContract<unknown, unknown> };
  /** The events the server sends, by name. */
  readonly events: { readonly [name: string]: EventContract<unknown> };
}

/** The request type of a command. */
export type RequestOf<C extends CommandContract<unknown, unknown>> = CodecValue<C['request']>;
/** The response type of a command. */
export type ResponseOf<C extends CommandContract<unknown, unknown>> = CodecValue<C['response']>;
/** The payload type of an event. */
export type EventPayloadOf<E extends EventContract<unknown>> = CodecValue<E['payload']>;

/**
 * Checks a contract and returns it as is, with its exact types kept for
 * `implementContract` and `contractClient`.
 *
 * @throws {@link IpcError} `EINVAL` for an id outside 0–65535, an id used twice, a bad name, or
 * a codec without `encode` and `decode`.
 */
export function defineContract<const C extends ServiceContract>(contract: C): C {
  if (!isUint16(contract.id)) throw new IpcError('EINVAL', `service id ${contract.id} is not an integer in 0–65535`);
  if (
    typeof contract.name !== 'string' ||
    contract.name === '' ||
    Buffer.byteLength(contract.name) > SERVICE_NAME_MAX
  ) {
    throw new IpcError('EINVAL', `service name must be 1–${SERVICE_NAME_MAX} bytes of UTF-8`);
  }
  checkIds(contract.name, 'command', Object.entries(contract.commands), (command) => [
    command.request,
    command.response,
  ]);
  checkIds(contract.name, 'event', Object.entries(contract.events), (event) => [event.payload]);
  return contract;
}

function checkIds<T extends { readonly id: number }>(
  service: string,
  kind: string,
  entries: [string, T][],
  codecs: (entry: T) => Codec<unknown>[],
): void {
  const seen = new Map<number, string>();
  for (const [name, entry] of entries) {
    if (!isUint16(entry.id))
      throw new IpcError(
        'EINVAL',
        `${kind} "${name}" of service "${service}" has id ${entry.id}, not an integer in 0–65535`,
      );
    const other = seen.get(entry.id);
    if (other !== undefined)
      throw new IpcError('EINVAL', `${kind}s "${other}" and "${name}" of service "${service}" share id ${entry.id}`);
    seen.set(entry.id, name);
    if (!codecs(entry).every((codec) => typeof codec?.encode === 'function' && typeof codec.decode === 'function')) {
      throw new IpcError('EINVAL', `${kind} "${name}" of service "${service}" has a codec without encode and decode`);
    }
  }
}
