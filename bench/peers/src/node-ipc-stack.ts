/**
 * What the node-ipc server and client share: the library, configured once, and the shape of
 * messages. node-ipc frames JSON text (one message per `\f`-delimited JSON document), so bytes
 * travel as base64 strings: that is the idiom for binary data over a JSON transport, and far
 * cheaper than node-ipc's own JSON form of a Buffer (an array of numbers).
 */
import nodeIpc from 'node-ipc';

/** One node-ipc instance per connection (or server), quiet, and never reconnecting on its own. */
export function ipcInstance(): typeof nodeIpc {
  const ipc = new nodeIpc.IPC() as typeof nodeIpc;
  ipc.config.silent = true;
  ipc.config.stopRetrying = true;
  ipc.config.maxRetries = 0;
  // The default of 100 would refuse the idle-connection workload's 1,000 clients.
  ipc.config.maxConnections = 10_000;
  ipc.config.unlink = true;
  return ipc;
}

export interface EchoMessage {
  readonly seq: number;
  readonly payload: string;
}

export const ECHO = 'echo';
export const PUSH = 'push';
export const EVENT = 'event';
