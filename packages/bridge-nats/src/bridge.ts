// NatsBridge: serves chosen commands and events of pollux services on NATS, as a pollux client.
import { IpcError, type IpcClient, type RequestOptions } from '@pollux/core';
import { EventEmitter } from 'node:events';
import type { NatsConnection, Service, ServiceMsg } from 'nats';
import { DEFAULT_PREFIX, DEFAULT_QUEUE, ServiceSubjects, subjectPrefix, subjectToken } from './subjects.js';
import { errorHeaders, natsRefusal } from './wire-errors.js';
import { BRIDGE_PROTOCOL_VERSION, SERVICE_METADATA } from './service-metadata.js';
import { idList, timeoutOption } from './options.js';

/** One pollux service to serve on NATS, and exactly what of it. */
export interface BridgedService {
  /**
   * A connected pollux client of the service, made by the caller: over any transport, with the
   * bridge's own credentials, so the server's `accept` hook decides about the bridge as about any
   * local client. Give it `reconnect` to ride out restarts of the pollux server. The bridge does
   * not close it.
   */
  readonly client: IpcClient;
  /**
   * The command ids served, each on `<prefix>.<subject>.<command>`. Nothing else of the service is
   * reachable from NATS: there is no default and no wildcard.
   */
  readonly commands: readonly number[];
  /** The event ids republished on `<prefix>.<subject>.events.<event>`. Default: none. */
  readonly events?: readonly number[];
  /**
   * The service's token in subjects. Default: the service's name, which must then be letters,
   * digits, `-` and `_` only.
   */
  readonly subject?: string;
}

/** Options of {@link NatsBridge.start}. */
export interface NatsBridgeOptions {
  /**
   * A connection to NATS, made by the caller with `connect()` of the `nats` package: that is where
   * NATS authentication (user and password, nkeys, TLS) and reconnection are set. The bridge
   * does not close it.
   */
  readonly nats: NatsConnection;
  /** The services served; at least one. */
  readonly services: readonly BridgedService[];
  /** First subject tokens, `pollux` by default: `acme.pollux` gives `acme.pollux.kv.1`. */
  readonly prefix?: string;
  /** The NATS queue group: bridges in the same group share requests. Default `pollux`. */
  readonly queue?: string;
  /**
   * How long, in ms, the bridge waits for the pollux server's answer before it replies `ETIMEDOUT`.
   * Default 30 000. A remote caller that gave up earlier no longer listens; this bounds what the
   * bridge holds for it.
   */
  readonly requestTimeout?: number;
}

/** Counters of a {@link NatsBridge}. */
export interface NatsBridgeStats {
  /** Requests taken from NATS. */
  requests: number;
  /** Replies sent that carried an error. */
  errors: number;
  /** Requests passed to a pollux server and not yet answered. */
  inFlight: number;
  /** Events published on NATS. */
  events: number;
  /** Events not published: larger than NATS's `max_payload`, or NATS refused them. */
  eventsDropped: number;
}

/** Events of {@link NatsBridge}. */
export interface NatsBridgeEvents {
  /**
   * A service stopped being served: its pollux client closed for good (`reason` is the client's)
   * or NATS ended its subscriptions. Other bridges in the queue group serve it on.
   */
  serviceStopped: [subject: string, reason: IpcError];
  /** An event was not published (`EMSGSIZE` beyond NATS's `max_payload`, or the NATS error). */
  eventDropped: [subject: string, event: number, reason: IpcError];
  /**
   * The bridge ended: `ECONNABORTED` when closed or destroyed, `ENOTCONN` when the NATS
   * connection closed for good.
   */
  close: [reason: IpcError];
}

/** One served service: its client, its subjects and its micro service. */
interface Served {
  readonly client: IpcClient;
  readonly subjects: ServiceSubjects;
  readonly events: ReadonlyMap<number, string>;
  readonly commands: readonly number[];
  service: Service | undefined;
  readonly onEvent: (event: number, payload: Buffer) => void;
  readonly onClose: (reason: IpcError) => void;
}

/** Per command counters, reported in the micro API's stats as the endpoint's `data`. */
interface EndpointCounters {
  errors: number;
  in_flight: number;
}

const DEFAULT_REQUEST_TIMEOUT = 30_000;

/**
 * Serves commands and events of pollux services on NATS. Each allowed command is a request-reply
 * subject `<prefix>.<service>.<command>` in a queue group, registered with the NATS services
 * ("micro") API, so `nats micro ls` / `info` / `stats` list it and several bridges share the load;
 * each allowed event is published on `<prefix>.<service>.events.<event>`.
 *
 * Requests are pipelined: every NATS request in flight is a pollux request in flight on the
 * service's client. A pollux failure goes back as a NATS service error carrying the `IpcError`'s
 * code, which {@link RemoteClient} turns back into the same `IpcError`.
 */
export class NatsBridge extends EventEmitter<NatsBridgeEvents> {
  readonly #nats: NatsConnection;
  readonly #served: Served[];
  readonly #queue: string;
  /** The options of every pollux request: one object for all, not one per request. */
  readonly #requestOptions: RequestOptions;
  readonly #counters = new Map<string, EndpointCounters>();
  readonly #stats: NatsBridgeStats = { requests: 0, errors: 0, inFlight: 0, events: 0, eventsDropped: 0 };
  /** False once closing: new requests are left to the other bridges. */
  #accepting = true;
  /** False once destroyed or off NATS: replies of requests in flight are not sent. */
  #replying = true;
  #done = false;
  #drained: (() => void) | undefined;
  #closing: Promise<void> | undefined;

  private constructor(options: NatsBridgeOptions) {
    super();
    this.#nats = options.nats;
    this.#queue = subjectToken('queue', options.queue ?? DEFAULT_QUEUE);
    this.#requestOptions = {
      timeout: timeoutOption('requestTimeout', options.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT),
    };
    const prefix = subjectPrefix(options.prefix ?? DEFAULT_PREFIX);
    if (!Array.isArray(options.services) || options.services.length === 0)
      throw new IpcError('EINVAL', 'services must list at least one service to serve: nothing is served by default');
    const tokens = new Set<string>();
    this.#served = options.services.map((entry) => {
      if (typeof entry?.client?.request !== 'function')
        throw new IpcError('EINVAL', 'each service needs a client: a connected IpcClient of that service');
      const token = subjectToken(
        `subject of service "${entry.client.serviceName}"`,
        entry.subject ?? entry.client.serviceName,
      );
      if (tokens.has(token))
        throw new IpcError('EINVAL', `two services use the subject token "${token}": give one a 'subject'`);
      tokens.add(token);
      if (!entry.client.isOpen)
        throw new IpcError('ENOTCONN', `the client of service "${token}" is not connected: pass a connected IpcClient`);
      const subjects = new ServiceSubjects(prefix, token);
      const served: Served = {
        client: entry.client,
        subjects,
        commands: idList(`commands of "${token}"`, entry.commands),
        events: new Map(
          idList(`events of "${token}"`, entry.events ?? []).map((event) => [event, subjects.event(event)]),
        ),
        service: undefined,
        onEvent: (event, payload) => this.#publishEvent(served, event, payload),
        onClose: (reason) => void this.#stopService(served, reason),
      };
      return served;
    });
    if (this.#served.every((served) => served.commands.length === 0 && served.events.size === 0))
      throw new IpcError('EINVAL', 'no command and no event to serve: list them in commands and events');
  }

  /**
   * Starts serving: registers one NATS micro service per pollux service, then republishes events.
   *
   * @throws {@link @pollux/core!index.IpcError} `EINVAL` for bad options (no service, a command id outside 0–65535,
   * a service name that is no subject token without a `subject`, two services on one token);
   * `ENOTCONN` when a client or the NATS connection is closed; `EIO` when NATS refused a
   * subscription.
   */
  static async start(options: NatsBridgeOptions): Promise<NatsBridge> {
    const bridge = new NatsBridge(options);
    if (bridge.#nats.isClosed()) throw new IpcError('ENOTCONN', 'the NATS connection is closed: connect again');
    try {
      for (const served of bridge.#served) await bridge.#startService(served);
      // A flush makes the subscriptions known to the NATS server before start resolves: a request
      // sent right after goes to this bridge, not to "no responders".
      await bridge.#nats.flush();
    } catch (error) {
      bridge.destroy();
      throw IpcError.from(error, 'EIO');
    }
    void bridge.#nats
      .closed()
      .then(() =>
        bridge.#end(
          new IpcError('ENOTCONN', 'the NATS connection closed for good: connect again and start a new bridge'),
        ),
      );
    return bridge;
  }

  /** Counters of this bridge. */
  get stats(): Readonly<NatsBridgeStats> {
    return this.#stats;
  }

  /** The subject tokens of the services being served now. */
  get services(): string[] {
    return this.#served.filter((served) => served.service !== undefined).map((served) => served.subjects.token);
  }

  /**
   * Stops taking requests (other bridges in the queue group take them), waits for the replies to
   * those in flight, then resolves. The clients and the NATS connection stay open. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#finish(true);
    return this.#closing;
  }

  /**
   * Stops at once: no more requests, and the replies of those in flight are never sent (their
   * callers time out). The clients and the NATS connection stay open. Idempotent.
   */
  destroy(): void {
    this.#closing ??= this.#finish(false);
  }

  async #finish(graceful: boolean): Promise<void> {
    this.#accepting = false;
    if (!graceful) this.#replying = false;
    await Promise.all(this.#served.map((served) => this.#stopService(served)));
    if (this.#stats.inFlight > 0 && this.#replying) await new Promise<void>((resolve) => (this.#drained = resolve));
    this.#end(new IpcError('ECONNABORTED', 'bridge closed'));
  }

  /** The bridge is done: emits `close` once. */
  #end(reason: IpcError): void {
    if (this.#done) return;
    this.#done = true;
    this.#accepting = this.#replying = false;
    for (const served of this.#served) void this.#stopService(served);
    this.#drained?.();
    this.emit('close', reason);
  }

  async #startService(served: Served): Promise<void> {
    const { client, subjects } = served;
    const service = await this.#nats.services.add({
      name: subjects.microName,
      version: BRIDGE_PROTOCOL_VERSION,
      description: `pollux service "${client.serviceName}" (id ${client.serviceId}), bridged from a pollux server`,
      queue: this.#queue,
      metadata: {
        [SERVICE_METADATA.serviceId]: String(client.serviceId),
        [SERVICE_METADATA.serviceName]: client.serviceName,
        [SERVICE_METADATA.maxMessageSize]: String(client.maxMessageSize),
        [SERVICE_METADATA.commands]: served.commands.join(','),
        [SERVICE_METADATA.events]: [...served.events.keys()].join(','),
      },
      statsHandler: (endpoint) => Promise.resolve(this.#counters.get(endpoint.subject) ?? null),
    });
    served.service = service;
    for (const command of served.commands) {
      const subject = subjects.command(command);
      const counters: EndpointCounters = { errors: 0, in_flight: 0 };
      this.#counters.set(subject, counters);
      service.addEndpoint(String(command), {
        subject,
        metadata: { [SERVICE_METADATA.command]: String(command) },
        handler: (error, msg) => {
          if (error === null) this.#serve(client, command, counters, msg);
        },
      });
    }
    if (served.events.size > 0) client.on('event', served.onEvent);
    client.on('close', served.onClose);
    void service.stopped.then((error) => {
      if (error instanceof Error && served.service === service)
        void this.#stopService(served, IpcError.from(error, 'EIO'));
    });
  }

  /** Takes one request: hands it to the pollux client, and replies once it settles. */
  #serve(client: IpcClient, command: number, counters: EndpointCounters, msg: ServiceMsg): void {
    if (!this.#accepting || msg.reply === '') return; // a publish, not a request: there is nobody to answer
    this.#stats.requests++;
    this.#stats.inFlight++;
    counters.in_flight++;
    client.request(command, msg.data, this.#requestOptions).then(
      (answer) => this.#reply(msg, counters, answer, undefined),
      (error: unknown) => this.#reply(msg, counters, undefined, IpcError.from(error, 'EIO')),
    );
  }

  #reply(msg: ServiceMsg, counters: EndpointCounters, answer: Buffer | undefined, failure: IpcError | undefined): void {
    this.#stats.inFlight--;
    counters.in_flight--;
    if (this.#replying) {
      let error = failure;
      if (answer !== undefined) {
        try {
          msg.respond(answer);
        } catch (cause) {
          error = natsRefusal(cause, `the response of ${answer.length} bytes`, this.#nats);
        }
      }
      if (error !== undefined) {
        this.#stats.errors++;
        counters.errors++;
        respondError(msg, error);
      }
    }
    if (this.#stats.inFlight === 0) this.#drained?.();
  }

  #publishEvent(served: Served, event: number, payload: Buffer): void {
    const subject = served.events.get(event);
    if (subject === undefined || !this.#accepting) return;
    try {
      // NATS queues the bytes by reference until it flushes, after this listener returns; over
      // shared memory the payload is a view of the ring, valid only until then.
      this.#nats.publish(subject, Buffer.from(payload));
      this.#stats.events++;
    } catch (cause) {
      this.#stats.eventsDropped++;
      this.emit(
        'eventDropped',
        served.subjects.token,
        event,
        natsRefusal(cause, `event ${event} of ${payload.length} bytes`, this.#nats),
      );
    }
  }

  /** Stops serving one service; `reason` is told to listeners unless the bridge itself is ending. */
  async #stopService(served: Served, reason?: IpcError): Promise<void> {
    const service = served.service;
    this.#detach(served);
    if (service === undefined) return;
    served.service = undefined;
    for (const command of served.commands) this.#counters.delete(served.subjects.command(command));
    // Stopping unsubscribes; once the NATS server knows (the flush), requests go to the other
    // bridges, or fail at once with "no responders" where there is none.
    if (!this.#nats.isClosed()) {
      await service.stop().catch(() => undefined);
      await this.#nats.flush().catch(() => undefined);
    }
    if (reason !== undefined) this.emit('serviceStopped', served.subjects.token, reason);
  }

  #detach(served: Served): void {
    served.client.off('event', served.onEvent);
    served.client.off('close', served.onClose);
  }
}

/** Replies with a NATS service error that carries `error`'s pollux code. */
function respondError(msg: ServiceMsg, error: IpcError): void {
  const headers = errorHeaders(error);
  try {
    msg.respond(undefined, { headers });
  } catch {
    // Only a closed NATS connection refuses an empty reply; the caller times out.
  }
}
