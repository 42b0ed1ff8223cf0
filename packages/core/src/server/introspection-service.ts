// The built-in introspection service (server layer): answers stats and connection pages in the
// wire format of protocol/introspection.ts.
import { IpcError } from '../errors.js';
import type { Credentials } from '../contracts/transport.js';
import {
  DEFAULT_PAGE_BYTES,
  INTROSPECTION_SERVICE_ID,
  INTROSPECTION_SERVICE_NAME,
  IntrospectionCommand,
  type PageRequest,
} from '../protocol/introspection.js';
import type { ConnectionInfo, ServerStats } from '../stats.js';
import type { AcceptHook, ServiceDefinition } from './service.js';

/** Room the page's frame takes around its entries, `next` at its longest included. */
const PAGE_FRAME_BYTES = '{"connections":[],"next":}'.length + String(Number.MAX_SAFE_INTEGER).length;

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
      [IntrospectionCommand.Connections]: (payload) => connectionPage(source.connections(), pageRequest(payload)),
    },
  };
}

function pageRequest(payload: Buffer): PageRequest {
  if (payload.length === 0) return { after: -1, maxBytes: DEFAULT_PAGE_BYTES };
  let request: Partial<Record<keyof PageRequest, unknown>> | null;
  try {
    request = JSON.parse(payload.toString('utf8')) as typeof request;
  } catch {
    request = null;
  }
  const { after = -1, maxBytes = DEFAULT_PAGE_BYTES } = request ?? {};
  if (
    typeof request !== 'object' ||
    request === null ||
    !Number.isSafeInteger(after) ||
    !Number.isSafeInteger(maxBytes)
  ) {
    throw new IpcError(
      'EINVAL',
      'a connection page request is JSON {"after": id, "maxBytes": n} with integers: use fetchConnections',
    );
  }
  return { after: after as number, maxBytes: maxBytes as number };
}

/** The connections after `request.after`, in id order, as many as fit `request.maxBytes`. */
function connectionPage(connections: readonly ConnectionInfo[], request: PageRequest): Buffer {
  const remaining = connections.filter((info) => info.id > request.after).sort((a, b) => a.id - b.id);
  const entries: string[] = [];
  let bytes = PAGE_FRAME_BYTES;
  for (const info of remaining) {
    const entry = JSON.stringify(info);
    const size = Buffer.byteLength(entry) + (entries.length > 0 ? 1 : 0);
    if (bytes + size > request.maxBytes) break;
    entries.push(entry);
    bytes += size;
  }
  if (entries.length === 0 && remaining.length > 0) {
    throw new IpcError(
      'EMSGSIZE',
      `a page of ${request.maxBytes} bytes cannot hold one connection entry: ask for pages of at least 1 KiB`,
    );
  }
  const next = entries.length < remaining.length ? remaining[entries.length - 1]!.id : null;
  return Buffer.from(`{"connections":[${entries.join(',')}],"next":${next}}`);
}
