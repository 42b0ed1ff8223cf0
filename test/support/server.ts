import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type CreateServerOptions, type IpcServer } from 'pollux';

/** A server listening on a socket in a fresh temporary directory. */
export interface TestServer {
  readonly server: IpcServer;
  readonly address: string;
  /** The socket's path, {@link TestServer.address} without its scheme: where a raw socket client connects. */
  readonly path: string;
  /** Closes the server and removes its directory. */
  stop(): Promise<void>;
}

/** A socket path in a fresh temporary directory, where nothing listens yet. */
export interface ScratchSocket {
  readonly address: string;
  /** Removes the directory and whatever a server left in it. */
  remove(): void;
}

/** Makes a {@link ScratchSocket}. */
export function scratchSocket(): ScratchSocket {
  const dir = mkdtempSync(join(tmpdir(), 'pollux-test-'));
  // Other users (a client spawned as uid 65534) must be able to reach the socket inside.
  chmodSync(dir, 0o755);
  return { address: join(dir, 'server.sock'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Makes a server, lets `configure` add its services, and listens on `address`. */
export async function listenAt(
  address: string,
  configure: (server: IpcServer) => void,
  options: CreateServerOptions = {},
): Promise<IpcServer> {
  const server = createServer(options);
  configure(server);
  await server.listen(address);
  return server;
}

/** Starts a server; `configure` adds its services before it listens, at a fresh path behind `scheme` (`shm:`). */
export async function startServer(
  configure: (server: IpcServer) => void,
  options: CreateServerOptions = {},
  scheme = '',
): Promise<TestServer> {
  const socket = scratchSocket();
  const address = scheme + socket.address;
  const server = await listenAt(address, configure, options);
  return {
    server,
    address,
    path: socket.address,
    async stop() {
      await server.close();
      socket.remove();
    },
  };
}

/** A promise plus its resolve function, for handlers the test completes by hand. */
export function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Resolves after the condition holds, checking once per turn of the event loop. */
export async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}
