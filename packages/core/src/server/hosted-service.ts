// HostedService: a registered service's handle, for broadcasts and its connections (server layer).
import type { Connection } from './connection.js';
import type { IpcError } from '../errors.js';
import { checkEvent } from '../option-checks.js';
import type { RegisteredService } from './service-registry.js';

/** Which connections a {@link HostedService.broadcast} reaches; return false to skip one. */
export type BroadcastFilter<Context> = (connection: Connection<Context>) => boolean;

/** How a {@link HostedService.broadcast} went. */
export interface BroadcastResult<Context = undefined> {
  /** Connections the event was queued to. */
  readonly sent: number;
  /**
   * Connections that did not get it: their event queue was full (`onEventQueueFull: 'reject'`;
   * the service's `drained` hook tells when they read again, and their `eventsRefused` counts it),
   * the event exceeded the message size they agreed, they were closing already, or, with
   * `'disconnect'`, they were dropped. Send to them again later, or let them go.
   */
  readonly refused: readonly Connection<Context>[];
}

const NONE_REFUSED: readonly never[] = Object.freeze([]);

/**
 * A service as registered on a server, returned by `IpcServer.addService`: the handle to act on
 * all of its connections at once.
 */
export class HostedService<Context = undefined> {
  readonly #registered: RegisteredService;

  /** @internal Made by the server only. */
  constructor(registered: RegisteredService) {
    this.#registered = registered;
  }

  /** The service id. */
  get id(): number {
    return this.#registered.definition.id;
  }

  /** The service name. */
  get name(): string {
    return this.#registered.definition.name;
  }

  /** Connections open now, past their handshake. */
  get connectionCount(): number {
    return this.#registered.connections.size;
  }

  /**
   * Sends one event to every open connection of the service (those `filter` accepts). The
   * payload is shared, not copied per connection: encode it once, and do not change it until it
   * has been written. Each connection's event-queue policy applies as for
   * {@link Connection.sendEvent}, but a full queue never throws here: it counts as refused.
   *
   * @param event - event id, 0–65535
   * @param payload - event payload
   * @param filter - picks the connections to reach; all of them without one
   * @throws {@link IpcError} `EINVAL` for a bad event id or a payload that is not a Uint8Array
   * (nothing is sent).
   */
  broadcast(event: number, payload: Uint8Array, filter?: BroadcastFilter<Context>): BroadcastResult<Context> {
    checkEvent(event, payload);
    let sent = 0;
    let refused: Connection<Context>[] | undefined;
    for (const connection of this.#registered.connections as Set<Connection<Context>>) {
      if (filter !== undefined && !filter(connection)) continue;
      let queued = true;
      try {
        connection.sendEvent(event, payload);
        // With onEventQueueFull 'disconnect' a full queue drops the connection instead of throwing.
        queued = connection.isOpen;
      } catch {
        queued = false;
      }
      if (queued) sent++;
      else (refused ??= []).push(connection);
    }
    return { sent, refused: refused ?? NONE_REFUSED };
  }
}
