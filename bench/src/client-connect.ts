/**
 * How a client process connects with each contender. Every stack's module is imported only when
 * its contender runs, so no client process loads (or starts threads for) a stack it does not
 * measure.
 */
import { backendOf, BROADCAST, type Contender } from './contenders.js';
import type { Connect } from './echo-client.js';

export async function connectorOf(contender: Contender): Promise<Connect> {
  const backend = backendOf(contender);
  if (backend !== undefined) {
    const { PolluxEchoClient } = await import('./pollux-client.js');
    const push = contender === BROADCAST ? 'broadcast' : 'per-connection';
    return (address) => PolluxEchoClient.connect(address, backend, push);
  }
  switch (contender) {
    // The C server speaks the node:net framing, so the node:net client drives it.
    case 'net':
    case 'c':
      return (await import('./net-client.js')).NetEchoClient.connect;
    case 'node-ipc':
      return (await import('./node-ipc-client.js')).NodeIpcEchoClient.connect;
    case 'jsonrpc':
      return (await import('./jsonrpc-client.js')).JsonRpcEchoClient.connect;
    case 'zeromq':
      return (await import('./zeromq-client.js')).ZeromqEchoClient.connect;
    case 'grpc':
      return (await import('./grpc-client.js')).GrpcEchoClient.connect;
    default:
      throw new Error(`no client for ${contender}`);
  }
}
