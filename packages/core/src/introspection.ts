import { IpcError } from './errors.js';
import type { IpcClient } from './client.js';
import type { AcceptHook, ServiceDefinition } from './service.js';
import type { ConnectionInfo, ServerStats } from './stats.js';
import type { Credentials } from './transport.js';

/** The id of the built-in introspection service. */
export const INTROSPECTION_SERVICE_ID = 0xffff;
/** The name of the built-in introspection service. */
export const INTROSPECTION_SERVICE_NAME = 'pollux.introspection';

/** The commands of the introspection service; each answers UTF-8 JSON. */
export const IntrospectionCommand = {
  /** The server's {@link ServerStats}. */
  Stats: 0,
  /** The open connections, as {@link ConnectionInfo}s. */
  Connections: 1,
} as const;

/** Options of the built-in introspection service. */
export interface IntrospectionOptions {
  /**
   * Who may read the stats; they name other clients' pids and uids. Default: root and the
   * server's own uid.
   */
  readonly accept?: AcceptHook;
}

/** What the introspection service reports on. */
export interface IntrospectionSource {
  stats(): ServerStats;
  connections(): ConnectionInfo[];
}

/** The introspection service of `source`. */
export function introspectionService(source: IntrospectionSource, options: IntrospectionOptions): ServiceDefinition {
  const ownUid = process.getuid?.() ?? 0;
  return {
    id: INTROSPECTION_SERVICE_ID,
    name: INTROSPECTION_SERVICE_NAME,
    accept: options.accept ?? ((credentials: Credentials) => credentials.uid === 0 || credentials.uid === ownUid),
    commands: {
      [IntrospectionCommand.Stats]: () => Buffer.from(JSON.stringify(source.stats())),
      [IntrospectionCommand.Connections]: () => Buffer.from(JSON.stringify(source.connections())),
    },
  };
}

/**
 * Reads a server's stats through a client connected to its introspection service
 * (`connect(address, INTROSPECTION_SERVICE_NAME)`).
 *
 * @throws {@link IpcError} (as a rejection) as {@link IpcClient.request}; `EPROTO` when the answer is not stats.
 */
export async function fetchServerStats(client: IpcClient): Promise<ServerStats> {
  return parse<ServerStats>(await client.request(IntrospectionCommand.Stats), 'stats');
}

/**
 * Reads a server's open connections through a client connected to its introspection service.
 *
 * @throws {@link IpcError} (as a rejection) as {@link IpcClient.request}; `EPROTO` when the answer is not a list.
 */
export async function fetchConnections(client: IpcClient): Promise<ConnectionInfo[]> {
  const list = parse<ConnectionInfo[]>(await client.request(IntrospectionCommand.Connections), 'connections');
  if (!Array.isArray(list)) throw new IpcError('EPROTO', 'introspection service answered something other than a connection list');
  return list;
}

function parse<T>(payload: Buffer, what: string): T {
  try {
    return JSON.parse(payload.toString('utf8')) as T;
  } catch (error) {
    throw new IpcError('EPROTO', `introspection service sent malformed ${what}: is this a pollux server?`, { cause: error });
  }
}
