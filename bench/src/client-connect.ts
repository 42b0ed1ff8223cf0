/**
 * How a client process connects with each contender. Every stack's module is imported only when
 * its contender runs, so no client process loads (or starts threads for) a stack it does not
 * measure.
 */
import { pathToFileURL } from 'node:url';
import { backendOf, BROADCAST, polluxAddress, spinMicrosOf, type Contender } from './contenders.js';
import type { Connect } from './echo-client.js';
import { peerScript } from './peers.js';

/** Imports a peer adapter's client class (see peers.ts for why by path). */
async function peerClient(file: string, exported: string): Promise<Connect> {
  const module = (await import(pathToFileURL(peerScript(file)).href)) as Record<string, { connect: Connect }>;
  const client = module[exported];
  if (client === undefined) throw new Error(`${file} exports no ${exported}`);
  return client.connect;
}

/** How a client of `contender` connects; a pollux one over shm with rings of `shmRingBytes`. */
export async function connectorOf(contender: Contender, shmRingBytes: number): Promise<Connect> {
  const backend = backendOf(contender);
  if (backend !== undefined) {
    const { PolluxEchoClient } = await import('./pollux-client.js');
    const push = contender === BROADCAST ? 'broadcast' : 'per-connection';
    const spinMicros = spinMicrosOf(contender);
    return (address) =>
      PolluxEchoClient.connect(polluxAddress(contender, address), backend, push, spinMicros, shmRingBytes);
  }
  switch (contender) {
    // The C server speaks the node:net framing, so the node:net client drives it.
    case 'net':
    case 'c':
      return (await import('./net-client.js')).NetEchoClient.connect;
    case 'node-ipc':
      return peerClient('node-ipc-client.ts', 'NodeIpcEchoClient');
    case 'jsonrpc':
      return peerClient('jsonrpc-client.ts', 'JsonRpcEchoClient');
    case 'zeromq':
      return peerClient('zeromq-client.ts', 'ZeromqEchoClient');
    case 'grpc':
      return peerClient('grpc-client.ts', 'GrpcEchoClient');
    case 'pollux-nats':
      return (await import('./nats-client.js')).RemoteEchoClient.connect;
    case 'nats':
      return (await import('./nats-client.js')).PlainNatsEchoClient.connect;
    default:
      throw new Error(`no client for ${contender}`);
  }
}
