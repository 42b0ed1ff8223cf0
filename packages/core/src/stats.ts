/** Traffic counters of one connection. */
export interface ConnectionStats {
  /** Requests received. */
  requests: number;
  /** Successful responses sent. */
  responses: number;
  /** Error responses sent (handler threw, unknown command, oversize response). */
  errors: number;
  /** Events sent. */
  events: number;
  /** Bytes read from the peer. */
  bytesIn: number;
  /** Bytes written to the peer. */
  bytesOut: number;
}

/** Counters of one service, over all its connections past and present. */
export interface ServiceStats extends ConnectionStats {
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
}

/** A snapshot of a server's counters. */
export interface ServerStats {
  /** Connections open now, handshaking ones included. */
  readonly connections: number;
  /** Connections that completed a handshake. */
  readonly accepted: number;
  /** Connections turned away at the handshake (refused, unknown service, bad hello, timeout). */
  readonly refused: number;
  /** Protocol violations over all connections, handshakes included. */
  readonly protocolErrors: number;
  /** Per-service counters. */
  readonly services: readonly Readonly<ServiceStats>[];
}

/** Fresh zeroed per-connection counters. */
export function newConnectionStats(): ConnectionStats {
  return { requests: 0, responses: 0, errors: 0, events: 0, bytesIn: 0, bytesOut: 0 };
}
