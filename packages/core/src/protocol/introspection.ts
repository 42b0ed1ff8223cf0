// The wire format of the built-in introspection service (protocol layer): its id, name, commands
// and the JSON they carry; the service is in server/, the readers in client/.
import type { ConnectionInfo, ServerStats } from '../stats.js';

/** The id of the built-in introspection service. */
export const INTROSPECTION_SERVICE_ID = 0xffff;
/** The name of the built-in introspection service. */
export const INTROSPECTION_SERVICE_NAME = 'pollux.introspection';

/** The commands of the introspection service; each answers UTF-8 JSON. */
export const IntrospectionCommand = {
  /** The server's {@link ServerStats}. */
  Stats: 0,
  /**
   * One page of the open connections, in id order. The request is JSON
   * `{"after": id, "maxBytes": n}` (both optional; an empty payload asks for the first page of at
   * most 64 KiB); the answer is `{"connections": ConnectionInfo[], "next": id | null}`, with
   * `next` the `after` of the following page. A list of `maxConnections` entries can outgrow
   * any one message, so it comes in pages no larger than `maxBytes`.
   */
  Connections: 1,
} as const;

/** Page size when the request names none; every agreed message size from 64 KiB up takes it. */
export const DEFAULT_PAGE_BYTES = 64 * 1024;

/** What a client asks of {@link IntrospectionCommand.Connections}. */
export interface PageRequest {
  readonly after: number;
  readonly maxBytes: number;
}

/** What {@link IntrospectionCommand.Connections} answers. */
export interface ConnectionPage {
  readonly connections: ConnectionInfo[];
  readonly next: number | null;
}
