/**
 * What one run measures: pollux on one poller backend (server and client on the same one), or
 * the node:net baseline. The name is passed to the client process on its command line and keys
 * the results in latest.json.
 */
import { isBackend, type Backend } from './backends.js';

export type Contender = 'net' | `pollux-${Backend}`;

export function polluxOn(backend: Backend): Contender {
  return `pollux-${backend}`;
}

/** The backend of a pollux contender; undefined for node:net, which has no pluggable poller. */
export function backendOf(contender: Contender): Backend | undefined {
  return contender === 'net' ? undefined : (contender.slice('pollux-'.length) as Backend);
}

export function parseContender(name: string): Contender {
  if (name === 'net') return name;
  const backend = name.startsWith('pollux-') ? name.slice('pollux-'.length) : '';
  if (isBackend(backend)) return polluxOn(backend);
  throw new Error(`unknown contender ${JSON.stringify(name)}: expected net or pollux-<node|epoll|pump>`);
}
