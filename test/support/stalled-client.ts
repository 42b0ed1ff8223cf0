import type { Connection, IpcServer } from 'pollux';
import type { Backends } from './backends.js';
import { isStopped, type Peer } from './peer.js';
import { until } from './server.js';

/**
 * A pollux client in a process of its own, stopped with SIGSTOP once connected: it reads nothing,
 * over any transport (a raw socket cannot play it over shared memory, whose data bypasses the
 * socket), until {@link StalledClient.resume}. It reports `closed` with the `code` and the number
 * of `events` it read once the server ends its connection.
 */
export interface StalledClient {
  readonly peer: Peer;
  /** Its connection on the server. */
  readonly connection: Connection<unknown>;
  /** Lets it run (SIGCONT): it reads what waits for it. */
  resume(): void;
}

/**
 * What a stalled client sees when the server drops it without a goodbye: `ECONNRESET`, or
 * `EPROTO` when the stream was cut inside a frame. Over shared memory a ring takes any number of
 * bytes, so the cut may fall anywhere in the last event; a socket takes each write whole while
 * it is below half its buffer, so the cut falls between frames there.
 */
export const DROPPED_CODES: readonly string[] = ['ECONNRESET', 'EPROTO'];

/** The process of a {@link StalledClient} of `service` at `address`, for a server in another process. */
export async function stoppedClientProcess(backends: Backends, address: string, service: string): Promise<Peer> {
  const peer = backends.spawnFixture('client', ['listen', address, service]);
  await peer.next('connected');
  peer.child.kill('SIGSTOP');
  await until(() => isStopped(peer.pid));
  return peer;
}

/** Starts a {@link StalledClient} of `service` at `address`, served by `server`. */
export async function stalledClient(
  backends: Backends,
  server: IpcServer,
  address: string,
  service: string,
): Promise<StalledClient> {
  const opened = new Promise<Connection<unknown>>((resolve) => server.once('connection', resolve));
  const peer = await stoppedClientProcess(backends, address, service);
  return { peer, connection: await opened, resume: () => peer.child.kill('SIGCONT') };
}
