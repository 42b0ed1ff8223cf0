// The services a server hosts, by id and by name, with their counters (server layer).
import { IpcError } from '../errors.js';
import { isUint16 } from '../protocol/frame.js';
import { SERVICE_BY_NAME, SERVICE_NAME_MAX, type Hello } from '../protocol/handshake.js';
import type { Connection } from './connection.js';
import type { CommandHandler, ServiceDefinition } from './service.js';
import { addTraffic, newTrafficStats, type ServiceStats, type TrafficStats } from '../stats.js';

/** A service as the server holds it: its definition, a fast command lookup, its counters. */
export class RegisteredService {
  readonly definition: ServiceDefinition<unknown>;
  readonly stats: ServiceStats;
  /** Its open connections, past their handshake: what a broadcast reaches. */
  readonly connections = new Set<Connection<unknown>>();
  /** Dense table for command ids, or a selector: looked up once per request. */
  private readonly table: (CommandHandler<unknown> | undefined)[] | undefined;
  private readonly selector: ((command: number) => CommandHandler<unknown> | undefined) | undefined;

  constructor(definition: ServiceDefinition<unknown>) {
    this.definition = definition;
    this.stats = {
      id: definition.id,
      name: definition.name,
      connections: 0,
      accepted: 0,
      refused: 0,
      closed: 0,
      protocolErrors: 0,
      slowConsumersDropped: 0,
      handlerFailures: 0,
      queuedBytes: 0,
      inFlight: 0,
      ...newTrafficStats(),
    };
    const commands = definition.commands;
    if (typeof commands === 'function') {
      this.selector = commands;
      this.table = undefined;
    } else {
      this.selector = undefined;
      this.table = [];
      for (const [key, handler] of Object.entries(commands)) {
        const command = Number(key);
        if (!isUint16(command))
          throw new IpcError(
            'EINVAL',
            `command id ${key} of service "${definition.name}" is not an integer in 0–65535`,
          );
        if (typeof handler !== 'function')
          throw new IpcError('EINVAL', `command ${key} of service "${definition.name}" is not a function`);
        this.table[command] = handler;
      }
    }
  }

  /** A connection finished its handshake: it counts, and broadcasts reach it. */
  opened(connection: Connection<unknown>): void {
    this.connections.add(connection);
    this.stats.accepted++;
    this.stats.connections++;
  }

  /** An open connection ended; its traffic joins the service's totals. */
  ended(connection: Connection<unknown>, traffic: TrafficStats, protocolError: boolean): void {
    this.connections.delete(connection);
    this.stats.connections--;
    this.stats.closed++;
    addTraffic(this.stats, traffic);
    if (protocolError) this.stats.protocolErrors++;
  }

  /** A client was turned away by the service's `accept` or `createContext`. */
  refusedOne(): void {
    this.stats.refused++;
  }

  /** A connection was dropped for not reading its events. */
  droppedSlowConsumer(): void {
    this.stats.slowConsumersDropped++;
  }

  /** A handler failed (threw something other than an IpcError, or answered what cannot be sent). */
  handlerFailed(): void {
    this.stats.handlerFailures++;
  }

  handlerFor(command: number): CommandHandler<unknown> | undefined {
    return this.table !== undefined ? this.table[command] : this.selector!(command);
  }
}

/** The services of one server, by id and by name. */
export class ServiceRegistry {
  private readonly byId = new Map<number, RegisteredService>();
  private readonly byName = new Map<string, RegisteredService>();

  add(definition: ServiceDefinition<unknown>): RegisteredService {
    if (!isUint16(definition.id))
      throw new IpcError('EINVAL', `service id ${definition.id} is not an integer in 0–65535`);
    if (
      typeof definition.name !== 'string' ||
      definition.name === '' ||
      Buffer.byteLength(definition.name) > SERVICE_NAME_MAX
    ) {
      throw new IpcError('EINVAL', `service name must be 1–${SERVICE_NAME_MAX} bytes of UTF-8`);
    }
    if (this.byId.has(definition.id)) throw new IpcError('EEXIST', `service id ${definition.id} is already registered`);
    if (this.byName.has(definition.name))
      throw new IpcError('EEXIST', `service name "${definition.name}" is already registered`);
    const service = new RegisteredService(definition);
    this.byId.set(definition.id, service);
    this.byName.set(definition.name, service);
    return service;
  }

  find(hello: Hello): RegisteredService | undefined {
    return hello.serviceId === SERVICE_BY_NAME ? this.byName.get(hello.serviceName) : this.byId.get(hello.serviceId);
  }

  /** Connections that finished their handshake, over every service. */
  acceptedTotal(): number {
    let total = 0;
    for (const service of this.byId.values()) total += service.stats.accepted;
    return total;
  }

  all(): IterableIterator<RegisteredService> {
    return this.byId.values();
  }
}
