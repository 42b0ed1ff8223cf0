// Plain-text tables of a server's stats and connections, for a terminal.
import Table from 'cli-table3';
import type { ConnectionInfo, ServerStats, ServiceStats } from 'pollux';

/** Plain columns, as `ss` and `ps` print them: no borders, two spaces between columns. */
function plainTable(head: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const table = new Table({
    head: [...head],
    chars: {
      top: '',
      'top-mid': '',
      'top-left': '',
      'top-right': '',
      bottom: '',
      'bottom-mid': '',
      'bottom-left': '',
      'bottom-right': '',
      left: '',
      'left-mid': '',
      mid: '',
      'mid-mid': '',
      right: '',
      'right-mid': '',
      middle: '  ',
    },
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0, compact: true },
    colAligns: head.map((_, column) => (column < 2 ? 'left' : 'right')),
  });
  for (const row of rows) table.push([...row]);
  // cli-table3 pads the last column too; trailing blanks only get in the way of scripts and diffs.
  return table
    .toString()
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n');
}

/** Requests and events per second of each service since the previous snapshot, for `watch`. */
export type Rates = ReadonlyMap<number, { readonly requests: number; readonly events: number }>;

/** The server line and the per-service table of `pollux status` (and `watch`, with rates). */
export function statusText(address: string, stats: ServerStats, rates?: Rates): string {
  const server =
    `server ${address}: ${stats.connections} connections open, ${stats.accepted} accepted, ${stats.refused} refused ` +
    `(${stats.refusedOverCapacity} over capacity), ${stats.closed} closed, ${stats.protocolErrors} protocol errors, ` +
    `${stats.inFlight} requests in flight, reading ${stats.readPaused ? 'PAUSED' : 'on'}`;
  const head = [
    'SERVICE',
    'ID',
    'CONNS',
    'ACCEPTED',
    'REFUSED',
    'CLOSED',
    'REQUESTS',
    'ERRORS',
    'BAD MSGS',
    'EVENTS',
    'EV REFUSED',
    'BYTES IN',
    'BYTES OUT',
    'QUEUED',
    'IN FLIGHT',
  ];
  if (rates !== undefined) head.push('REQ/S', 'EV/S');
  const rows = stats.services.map((service: Readonly<ServiceStats>) => {
    const row: (string | number)[] = [
      service.name,
      service.id,
      service.connections,
      service.accepted,
      service.refused,
      service.closed,
      service.requests,
      service.errors,
      service.badMessages,
      service.events,
      service.eventsRefused,
      service.bytesIn,
      service.bytesOut,
      service.queuedBytes,
      service.inFlight,
    ];
    const rate = rates?.get(service.id);
    if (rates !== undefined) row.push(Math.round(rate?.requests ?? 0), Math.round(rate?.events ?? 0));
    return row;
  });
  return `${server}\n\n${plainTable(head, rows)}\n`;
}

/** The table of `pollux connections`: one line per open connection, like `ss -x`. */
export function connectionsText(connections: readonly ConnectionInfo[], stats: ServerStats): string {
  const names = new Map(stats.services.map((service) => [service.id, service.name]));
  const head = [
    'ID',
    'SERVICE',
    'PID',
    'UID',
    'GID',
    'QUEUED',
    'IN FLIGHT',
    'PAUSED',
    'REQUESTS',
    'EVENTS',
    'EV REFUSED',
    'BYTES IN',
    'BYTES OUT',
  ];
  const rows = connections.map(({ id, serviceId, credentials, stats: c }) => [
    id,
    names.get(serviceId) ?? String(serviceId),
    credentials.pid,
    credentials.uid,
    credentials.gid,
    c.queuedBytes,
    c.inFlight,
    c.readPaused ? 'yes' : 'no',
    c.requests,
    c.events,
    c.eventsRefused,
    c.bytesIn,
    c.bytesOut,
  ]);
  return `${plainTable(head, rows)}\n`;
}
