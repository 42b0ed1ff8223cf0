// The shapes of server, service and connection counters (shared: the server fills them,
// the introspection readers return them).
import type { Credentials } from './contracts/transport.js';

/** Counters of one connection, or summed over a service's connections. */
export interface TrafficStats {
  /** Requests received. */
  requests: number;
  /** Successful responses sent. */
  responses: number;
  /** Error responses sent (handler threw, unknown command, oversize response). */
  errors: number;
  /** Requests refused with `EBADMSG` because their payload did not decode (counted in `errors` too). */
  badMessages: number;
  /** Events sent. */
  events: number;
  /** Events refused with `EAGAIN` because the client was not reading. */
  eventsRefused: number;
  /** Bytes read from the peer. */
  bytesIn: number;
  /** Bytes written to the peer. */
  bytesOut: number;
  /** Times reading stopped because the client did not take its responses and events. */
  flowControlEpisodes: number;
  /** Times reading stopped because a request rate limit ran out. */
  throttleEpisodes: number;
}

/** Counters and live state of one connection. */
export interface ConnectionStats extends TrafficStats {
  /** Bytes of responses and events waiting to be written now. */
  readonly queuedBytes: number;
  /** Requests whose handler is running now. */
  readonly inFlight: number;
  /** Whether requests are not being read now (any reason: backpressure, limits, a pause). */
  readonly readPaused: boolean;
}

/** One connection as the server sees it, for stats and introspection. */
export interface ConnectionInfo {
  /** Server-unique connection number. */
  readonly id: number;
  /** The service id it talks to. */
  readonly serviceId: number;
  /** The client's credentials, as the kernel reported them at connect time. */
  readonly credentials: Credentials;
  /** Its counters now. */
  readonly stats: ConnectionStats;
}

/** Counters of one service, over all its connections past and present. */
export interface ServiceStats extends TrafficStats {
  /** The service id. */
  readonly id: number;
  /** The service name. */
  readonly name: string;
  /** Connections open now. */
  connections: number;
  /** Connections admitted. */
  accepted: number;
  /** Connections refused by the `accept` hook. */
  refused: number;
  /** Connections that ended. */
  closed: number;
  /** Connections closed because the peer broke the protocol. */
  protocolErrors: number;
  /** Connections dropped because they did not read their events (`onEventQueueFull: 'disconnect'`). */
  slowConsumersDropped: number;
  /** Handlers that threw or rejected with something other than an `IpcError`, or answered what cannot be sent. */
  handlerFailures: number;
  /** Bytes waiting to be written to its connections now. */
  queuedBytes: number;
  /** Requests being handled now. */
  inFlight: number;
}

/** A snapshot of a server's counters. */
export interface ServerStats {
  /** Connections open now, handshaking ones included. */
  readonly connections: number;
  /** Connections that completed a handshake. */
  readonly accepted: number;
  /** Connections turned away at the handshake (refused, unknown service, bad hello, timeout, over capacity). */
  readonly refused: number;
  /** Connections turned away because `maxConnections` were open. */
  readonly refusedOverCapacity: number;
  /** Connections that ended, handshaking ones included. */
  readonly closed: number;
  /** Protocol violations over all connections, handshakes included. */
  readonly protocolErrors: number;
  /** Requests being handled now, over all connections. */
  readonly inFlight: number;
  /** Whether the server as a whole has stopped reading requests now (limit, rate or pause). */
  readonly readPaused: boolean;
  /** Per-service counters. */
  readonly services: readonly Readonly<ServiceStats>[];
}

/** Fresh zeroed traffic counters. */
export function newTrafficStats(): TrafficStats {
  return {
    requests: 0,
    responses: 0,
    errors: 0,
    badMessages: 0,
    events: 0,
    eventsRefused: 0,
    bytesIn: 0,
    bytesOut: 0,
    flowControlEpisodes: 0,
    throttleEpisodes: 0,
  };
}

const TRAFFIC_KEYS = Object.keys(newTrafficStats()) as (keyof TrafficStats)[];

/** Adds every traffic counter of `from` into `into`. */
export function addTraffic(into: TrafficStats, from: Readonly<TrafficStats>): void {
  for (const key of TRAFFIC_KEYS) into[key] += from[key];
}
