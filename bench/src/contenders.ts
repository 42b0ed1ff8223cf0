/**
 * What one run measures: pollux on one poller backend (server and client on the same one), or
 * one of the stacks a user would pick instead. The name is passed to the client process on its
 * command line and keys the results in latest.json.
 */
import { BACKENDS, isBackend, POLLER_CLASS, type Backend } from './backends.js';
import { isLibqb, LIBQB, type Libqb } from './libqb.js';

/** The stacks pollux is compared with; `net` is the floor every ratio divides by. */
export const PEERS = ['net', 'c', 'node-ipc', 'jsonrpc', 'zeromq', 'grpc'] as const;
export type Peer = (typeof PEERS)[number];

/**
 * pollux on NodePoller pushing events with one `broadcast` per event instead of a `sendEvent`
 * per connection; on every other workload it is plain `pollux-node`.
 */
export const BROADCAST = 'pollux-broadcast';

/** Over NATS on loopback: pollux through `@pollux/bridge-nats`, and plain NATS request-reply. */
export const REMOTE = ['pollux-nats', 'nats'] as const;
export type Remote = (typeof REMOTE)[number];

/**
 * pollux over shared memory on NodePoller with {@link SPIN_MICROS} of spin before sleeping, on
 * both sides (`ShmTransport`'s `spinMicros`): CPU traded for round-trip time.
 */
export const SHM_SPIN = 'pollux-shm-node-spin';
/** The spin of {@link SHM_SPIN}: about two cross-CPU wake-ups here. */
export const SPIN_MICROS = 50;

/** Whether `contender` is pollux over shared memory. */
export function isShm(contender: Contender): boolean {
  return contender.startsWith(SHM);
}

export type Contender =
  | Peer
  | `pollux-${Backend}`
  | `pollux-shm-${Backend}`
  | typeof SHM_SPIN
  | typeof BROADCAST
  | Libqb
  | Remote;

export const CONTENDERS: readonly Contender[] = [
  ...BACKENDS.map(polluxOn),
  ...BACKENDS.map(polluxShmOn),
  SHM_SPIN,
  BROADCAST,
  ...PEERS,
  ...LIBQB,
  ...REMOTE,
];

/** How tables and charts name each contender. */
export const LABEL: Record<Contender, string> = {
  'pollux-node': 'pollux',
  'pollux-epoll': `pollux ${POLLER_CLASS.epoll}`,
  'pollux-pump': `pollux ${POLLER_CLASS.pump}`,
  'pollux-pump-poll': `pollux ${POLLER_CLASS['pump-poll']}`,
  'pollux-shm-node': 'pollux shm',
  'pollux-shm-epoll': `pollux shm ${POLLER_CLASS.epoll}`,
  'pollux-shm-pump': `pollux shm ${POLLER_CLASS.pump}`,
  'pollux-shm-pump-poll': `pollux shm ${POLLER_CLASS['pump-poll']}`,
  [SHM_SPIN]: `pollux shm, ${SPIN_MICROS} µs spin`,
  [BROADCAST]: 'pollux broadcast',
  net: 'node:net',
  c: 'C echo',
  'node-ipc': 'node-ipc',
  jsonrpc: 'vscode-jsonrpc',
  zeromq: 'zeromq',
  grpc: 'grpc-js',
  'libqb-shm': 'libqb shm',
  'libqb-socket': 'libqb socket',
  'pollux-nats': 'pollux via NATS bridge',
  nats: 'NATS request-reply',
};

export function polluxOn(backend: Backend): Contender {
  return `pollux-${backend}`;
}

/** pollux over shared memory (`@pollux/transport-shm`) on `backend`. */
export function polluxShmOn(backend: Backend): Contender {
  return `pollux-shm-${backend}`;
}

const SHM = 'pollux-shm-';

/** What a pollux contender's server listens on and its clients connect to, given the bench's socket path. */
export function polluxAddress(contender: Contender, path: string): string {
  return isShm(contender) ? `shm:${path}` : path;
}

/** How long a pollux contender's server and clients spin before sleeping, in microseconds (`spinMicros`). */
export function spinMicrosOf(contender: Contender): number {
  return contender === SHM_SPIN ? SPIN_MICROS : 0;
}

/** The backend of a pollux contender; undefined for the other stacks, which have no pluggable poller. */
export function backendOf(contender: Contender): Backend | undefined {
  if (contender === BROADCAST || contender === SHM_SPIN) return 'node';
  if ((REMOTE as readonly string[]).includes(contender)) return undefined;
  if (contender.startsWith(SHM)) return contender.slice(SHM.length) as Backend;
  return contender.startsWith('pollux-') ? (contender.slice('pollux-'.length) as Backend) : undefined;
}

export function parseContender(name: string): Contender {
  if ((PEERS as readonly string[]).includes(name)) return name as Peer;
  if (name === BROADCAST) return BROADCAST;
  if (name === SHM_SPIN) return SHM_SPIN;
  if (isLibqb(name)) return name;
  if ((REMOTE as readonly string[]).includes(name)) return name as Remote;
  if (name.startsWith(SHM) && isBackend(name.slice(SHM.length))) return polluxShmOn(name.slice(SHM.length) as Backend);
  const backend = name.startsWith('pollux-') ? name.slice('pollux-'.length) : '';
  if (isBackend(backend)) return polluxOn(backend);
  throw new Error(`unknown contender ${JSON.stringify(name)}: expected one of ${CONTENDERS.join(', ')}`);
}
