// Regions handed over a pollux connection by name: a service on the server, a request from the client.
import {
  IpcError,
  type Connection,
  type Credentials,
  type IpcClient,
  type IpcServer,
  type MessageWithFds,
  type RequestOptions,
} from '@pollux/core';
import { close } from '@pollux/sys';
import type { SharedRegion } from './shared-region.js';
import { SharedRegionView, type SharedRegionViewOptions } from './shared-region-view.js';

/** The name of the service that hands regions out; clients connect to it to open one. */
export const REGION_SERVICE_NAME = 'pollux.regions';
/** Its id: next to the introspection service's 0xffff, out of the way of an application's own. */
export const REGION_SERVICE_ID = 0xfffe;
/** The one command of the service: the request is a region's name, the answer carries its fd. */
const OPEN_COMMAND = 0;
const NO_BYTES = new Uint8Array(0);

/** Options of {@link publishRegion}. */
export interface PublishRegionOptions {
  /**
   * Who may open the region, by the credentials the kernel gave for the client's connection:
   * return false to refuse with `EACCES`. Default: every client that reaches the server.
   */
  readonly allow?: (credentials: Credentials) => boolean;
}

interface Published {
  readonly region: SharedRegion;
  readonly allow: ((credentials: Credentials) => boolean) | undefined;
}

/** Each server's published regions, by name; the service is added with the first. */
const directories = new WeakMap<IpcServer, Map<string, Published>>();

/**
 * Publishes `region` on `server` under its name: a client connected to
 * {@link REGION_SERVICE_NAME} opens it with {@link openRegion}, and gets its own read-only,
 * sealed mapping. The first region published adds that service (id {@link REGION_SERVICE_ID}) to
 * the server. The region stays the caller's: close it after {@link unpublishRegion}; views already
 * open keep reading its last values.
 *
 * @throws {@link @pollux/core!index.IpcError} `EEXIST` when a region of that name is published on
 *   `server` already, `EBADF` when `region` is closed, or what `addService` throws (`EEXIST` when
 *   the server has another service of that id or name)
 */
export function publishRegion(server: IpcServer, region: SharedRegion, options: PublishRegionOptions = {}): void {
  void region.fd; // throws EBADF for a closed region, before anything is registered
  let directory = directories.get(server);
  if (directory === undefined) {
    const regions = new Map<string, Published>();
    server.addService({
      id: REGION_SERVICE_ID,
      name: REGION_SERVICE_NAME,
      commands: { [OPEN_COMMAND]: (name, connection) => handOut(regions, name.toString(), connection) },
    });
    directories.set(server, regions);
    directory = regions;
  }
  if (directory.has(region.name)) {
    throw new IpcError('EEXIST', `a region named '${region.name}' is published on this server already`);
  }
  directory.set(region.name, { region, allow: options.allow });
}

/**
 * Stops handing the region called `name` out on `server`; clients that opened it keep their views.
 *
 * @returns whether a region of that name was published
 */
export function unpublishRegion(server: IpcServer, name: string): boolean {
  return directories.get(server)?.delete(name) ?? false;
}

function handOut(regions: Map<string, Published>, name: string, connection: Connection<unknown>): MessageWithFds {
  const published = regions.get(name);
  const credentials = connection.credentials;
  if (published === undefined) throw new IpcError('ENOENT', `no region named '${name}' is published on this server`);
  if (published.allow !== undefined && !published.allow(credentials)) {
    throw new IpcError('EACCES', `region '${name}' is not open to uid ${credentials.uid}`);
  }
  return connection.withFds(NO_BYTES, [published.region.fd]);
}

/** Options of {@link openRegion}: what the view expects, and the request's timeout and signal. */
export type OpenRegionOptions = SharedRegionViewOptions & Pick<RequestOptions, 'timeout' | 'signal'>;

/**
 * Opens the region called `name` through `client`, a connection to {@link REGION_SERVICE_NAME}:
 * asks the server for the region's fd, checks it as {@link SharedRegionView.open} does, maps it
 * read-only and closes the fd.
 *
 * @throws {@link @pollux/core!index.IpcError} `EINVAL` when `client` is connected to another
 *   service, `ENOENT` when no region of that name is published, `EACCES` when the server refuses
 *   this client or the region is not sealed, what {@link SharedRegionView.open} throws, and what a
 *   request throws (`ETIMEDOUT`, `ECANCELED`, `ECONNRESET`, …)
 */
export async function openRegion(
  client: IpcClient,
  name: string,
  options: OpenRegionOptions = {},
): Promise<SharedRegionView> {
  if (client.serviceName !== REGION_SERVICE_NAME) {
    throw new IpcError(
      'EINVAL',
      `openRegion needs a client of service '${REGION_SERVICE_NAME}', not '${client.serviceName}': connect to that service`,
    );
  }
  const { timeout, signal, ...viewOptions } = options;
  const { fds } = await client.requestWithFds(OPEN_COMMAND, Buffer.from(name), {
    ...(timeout === undefined ? {} : { timeout }),
    ...(signal === undefined ? {} : { signal }),
  });
  try {
    if (fds.length !== 1) {
      throw new IpcError('EPROTO', `the server answered with ${fds.length} fds for region '${name}', not one`);
    }
    return SharedRegionView.open(fds[0]!, viewOptions);
  } finally {
    for (const fd of fds) close(fd);
  }
}
