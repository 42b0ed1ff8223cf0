/**
 * What one run measures: pollux on one poller backend (server and client on the same one), or
 * one of the stacks a user would pick instead. The name is passed to the client process on its
 * command line and keys the results in latest.json.
 */
import { BACKENDS, isBackend, POLLER_CLASS, type Backend } from './backends.js';

/** The stacks pollux is compared with; `net` is the floor every ratio divides by. */
export const PEERS = ['net', 'c', 'node-ipc', 'jsonrpc', 'zeromq', 'grpc'] as const;
export type Peer = (typeof PEERS)[number];

/**
 * pollux on NodePoller pushing events with one `broadcast` per event instead of a `sendEvent`
 * per connection; on every other workload it is plain `pollux-node`.
 */
export const BROADCAST = 'pollux-broadcast';

export type Contender = Peer | `pollux-${Backend}` | typeof BROADCAST;

export const CONTENDERS: readonly Contender[] = [...BACKENDS.map(polluxOn), BROADCAST, ...PEERS];

/** How tables and charts name each contender. */
export const LABEL: Record<Contender, string> = {
  'pollux-node': 'pollux',
  'pollux-epoll': `pollux ${POLLER_CLASS.epoll}`,
  'pollux-pump': `pollux ${POLLER_CLASS.pump}`,
  'pollux-pump-poll': `pollux ${POLLER_CLASS['pump-poll']}`,
  [BROADCAST]: 'pollux broadcast',
  net: 'node:net',
  c: 'C echo',
  'node-ipc': 'node-ipc',
  jsonrpc: 'vscode-jsonrpc',
  zeromq: 'zeromq',
  grpc: 'grpc-js',
};

export function polluxOn(backend: Backend): Contender {
  return `pollux-${backend}`;
}

/** The backend of a pollux contender; undefined for the other stacks, which have no pluggable poller. */
export function backendOf(contender: Contender): Backend | undefined {
  if (contender === BROADCAST) return 'node';
  return contender.startsWith('pollux-') ? (contender.slice('pollux-'.length) as Backend) : undefined;
}

export function parseContender(name: string): Contender {
  if ((PEERS as readonly string[]).includes(name)) return name as Peer;
  if (name === BROADCAST) return BROADCAST;
  const backend = name.startsWith('pollux-') ? name.slice('pollux-'.length) : '';
  if (isBackend(backend)) return polluxOn(backend);
  throw new Error(`unknown contender ${JSON.stringify(name)}: expected one of ${CONTENDERS.join(', ')}`);
}
