import type { Poller } from '@pollux/core';
import { connect, type ConnectOptions, type CreateServerOptions, type IpcClient, type IpcServer } from 'pollux';
import { afterAll } from 'vitest';
import { spawnPeer, type Peer } from './peer.js';
import { startPoller, type BackendName, type RunningPoller } from './pollers.js';
import { listenAt, startServer, type TestServer } from './server.js';

/** How clients reach servers: Unix sockets, or shared memory set up over them (`shm:` addresses). */
export type TransportName = 'socket' | 'shm';

/** A server backend and a client backend; equal names share one poller. */
export interface BackendPair {
  readonly server: BackendName;
  readonly client: BackendName;
  /** Default `'socket'`. */
  readonly transport?: TransportName;
}

/**
 * Each backend on its own, and mixed pairs: a server on one backend talking to clients on
 * another (clients in other processes use the client backend too).
 */
export const backendMatrix: readonly BackendPair[] = [
  { server: 'node', client: 'node' },
  { server: 'epoll', client: 'epoll' },
  { server: 'pump', client: 'pump' },
  { server: 'epoll', client: 'node' },
  { server: 'pump', client: 'epoll' },
];

/** {@link backendMatrix} over shared memory. */
export const shmBackendMatrix: readonly BackendPair[] = backendMatrix.map((pair) => ({ ...pair, transport: 'shm' }));

/**
 * One pair per server backend, for tests whose clients are raw sockets rather than pollux
 * clients: pairs that differ only in the client backend would run the same test.
 */
export const serverBackendMatrix: readonly BackendPair[] = backendMatrix.filter(
  (pair, at) => backendMatrix.findIndex((other) => other.server === pair.server) === at,
);

/** {@link backendMatrix} over each transport: for end-to-end tests of what every transport must do. */
export const transportMatrix: readonly BackendPair[] = [
  ...backendMatrix.map((pair) => ({ ...pair, transport: 'socket' as const })),
  ...shmBackendMatrix,
];

/**
 * {@link serverBackendMatrix} over each transport: for tests whose client is a stopped process,
 * where its backend plays no part.
 */
export const serverTransportMatrix: readonly BackendPair[] = [
  ...serverBackendMatrix.map((pair) => ({ ...pair, transport: 'socket' as const })),
  ...serverBackendMatrix.map((pair) => ({ ...pair, transport: 'shm' as const })),
];

/**
 * {@link backendMatrix} over sockets, and each backend on both ends over shared memory: for tests
 * that take minutes per pair (kill storm, model), where the mixed pairs add little the socket
 * runs and the single-backend shm runs do not already cover, since the transport sits below
 * the poller.
 */
export const heavyTransportMatrix: readonly BackendPair[] = [
  ...backendMatrix.map((pair) => ({ ...pair, transport: 'socket' as const })),
  ...serverBackendMatrix.map((pair) => ({ ...pair, transport: 'shm' as const })),
];

/** The pollers of one suite in the matrix, started on first use and stopped after the suite. */
export interface Backends {
  /** The poller the test's server runs on. */
  serverPoller(): Poller;
  /** The poller the test's in-process clients run on. */
  clientPoller(): Poller;
  /** `path` as an address of the suite's transport: `shm:<path>` over shared memory. */
  address(path: string): string;
  /** Fds a server holds per connection: the socket, and for shared memory its epoll set and eventfd. */
  readonly fdsPerConnection: number;
  /** Memory-file mappings each end holds per connection: its own ring and the peer's over shared memory. */
  readonly memfdMappingsPerConnection: number;
  /** Environment for fixture processes: their clients use the client backend. */
  readonly clientEnv: Record<string, string>;
  /** Environment for a fixture server process: it uses the server backend. */
  readonly serverEnv: Record<string, string>;
  /** `connect` with the client backend's poller. */
  connectTo(address: string, service: string | number, options?: ConnectOptions): Promise<IpcClient>;
  /** {@link startServer} on the server backend's poller. */
  startServerOn(configure: (server: IpcServer) => void, options?: CreateServerOptions): Promise<TestServer>;
  /** {@link listenAt} on the server backend's poller: a server at an address of the test's choosing. */
  listenOn(address: string, configure: (server: IpcServer) => void): Promise<IpcServer>;
  /**
   * {@link spawnPeer} with the environment that picks the right backend in the fixture: the
   * server backend for `server` and the fixtures named `*-server`, the client backend otherwise.
   */
  spawnFixture(
    fixture: string,
    args: readonly string[],
    options?: { uid?: number; gid?: number; stdin?: boolean; fds?: readonly number[]; wrapper?: readonly string[] },
  ): Peer;
}

/** Call inside a `describe`: sets up that suite's pollers for `pair`. */
export function useBackends(pair: BackendPair): Backends {
  const running = new Map<BackendName, RunningPoller>();
  const get = (name: BackendName): Poller => {
    let entry = running.get(name);
    if (entry === undefined) {
      entry = startPoller(name);
      running.set(name, entry);
    }
    return entry.poller;
  };
  afterAll(() => {
    for (const entry of running.values()) entry.stop();
    running.clear();
  });
  const prefix = pair.transport === 'shm' ? 'shm:' : '';
  const clientEnv = { POLLUX_POLLER: pair.client };
  const serverEnv = { POLLUX_POLLER: pair.server };
  return {
    serverPoller: () => get(pair.server),
    clientPoller: () => get(pair.client),
    address: (path) => prefix + path,
    fdsPerConnection: pair.transport === 'shm' ? 3 : 1,
    memfdMappingsPerConnection: pair.transport === 'shm' ? 2 : 0,
    clientEnv,
    serverEnv,
    connectTo: (address, service, options = {}) => connect(address, service, { poller: get(pair.client), ...options }),
    startServerOn: (configure, options = {}) =>
      startServer(configure, { ...options, poller: get(pair.server) }, prefix),
    listenOn: (address, configure) => listenAt(address, configure, { poller: get(pair.server) }),
    spawnFixture: (fixture, args, options = {}) =>
      spawnPeer(fixture, args, {
        ...options,
        env: fixture === 'server' || fixture.endsWith('-server') ? serverEnv : clientEnv,
      }),
  };
}
