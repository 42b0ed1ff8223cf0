// Readers of the built-in introspection service (client layer), in the wire format of
// protocol/introspection.ts.
import { IpcError } from '../errors.js';
import { IntrospectionCommand, type ConnectionPage, type PageRequest } from '../protocol/introspection.js';
import type { ConnectionInfo, ServerStats } from '../stats.js';
import type { IpcClient } from './client.js';

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
    const page = parse<ConnectionPage>(
      await client.request(IntrospectionCommand.Connections, Buffer.from(JSON.stringify(request))),
      'connections',
    );
    if (!isPage(page, after))
      throw new IpcError('EPROTO', 'introspection service answered something other than a page of the connection list');
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
    throw new IpcError('EPROTO', `introspection service sent malformed ${what}: is this a pollux server?`, {
      cause: error,
    });
  }
}
