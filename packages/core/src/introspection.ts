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
const DEFAULT_PAGE_BYTES = 64 * 1024;
/** Room the page's frame takes around its entries, `next` at its longest included. */
const PAGE_FRAME_BYTES = '{"connections":[],"next":}'.length + String(Number.MAX_SAFE_INTEGER).length;

/** What a client asks of {@link IntrospectionCommand.Connections}. */
interface PageRequest {
  readonly after: number;
  readonly maxBytes: number;
}

/** What {@link IntrospectionCommand.Connections} answers. */
interface ConnectionPage {
  readonly connections: ConnectionInfo[];
  readonly next: number | null;
}

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
  if (typeof request !== 'object' || request === null || !Number.isSafeInteger(after) || !Number.isSafeInteger(maxBytes)) {
    throw new IpcError('EINVAL', 'a connection page request is JSON {"after": id, "maxBytes": n} with integers: use fetchConnections');
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
    throw new IpcError('EMSGSIZE', `a page of ${request.maxBytes} bytes cannot hold one connection entry: ask for pages of at least 1 KiB`);
  }
  const next = entries.length < remaining.length ? remaining[entries.length - 1]!.id : null;
  return Buffer.from(`{"connections":[${entries.join(',')}],"next":${next}}`);
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
 * Reads a server's open connections through a client connected to its introspection service,
 * page by page, so that a list of any length fits the agreed message size. Each page is a
 * snapshot: a connection that opens or closes while the pages come may be missing or listed.
 *
 * @throws {@link IpcError} (as a rejection) as {@link IpcClient.request}; `EPROTO` when an answer is not a page
 * of the connection list.
 */
export async function fetchConnections(client: IpcClient): Promise<ConnectionInfo[]> {
  const list: ConnectionInfo[] = [];
  let after = -1;
  for (;;) {
    const request: PageRequest = { after, maxBytes: client.maxMessageSize };
    const page = parse<ConnectionPage>(await client.request(IntrospectionCommand.Connections, Buffer.from(JSON.stringify(request))), 'connections');
    if (!isPage(page, after)) throw new IpcError('EPROTO', 'introspection service answered something other than a page of the connection list');
    list.push(...page.connections);
    if (page.next === null) return list;
    after = page.next;
  }
}

/** A page whose cursor moves forward: a server that keeps answering the same page must not loop us forever. */
function isPage(page: ConnectionPage, after: number): boolean {
  return (
    typeof page === 'object' &&
    page !== null &&
    Array.isArray(page.connections) &&
    (page.next === null || (Number.isSafeInteger(page.next) && page.next > after))
  );
}

function parse<T>(payload: Buffer, what: string): T {
  try {
    return JSON.parse(payload.toString('utf8')) as T;
  } catch (error) {
    throw new IpcError('EPROTO', `introspection service sent malformed ${what}: is this a pollux server?`, { cause: error });
  }
}
