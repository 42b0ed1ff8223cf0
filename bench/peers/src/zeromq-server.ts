/**
 * The zeromq (v6) server, run as its own process: a ROUTER bound to `ipc://<socket path>`. A
 * message is [identity, id (u32 LE), payload]; it is echoed to the sender as is, except id
 * CONTROL_ID, a push request, answered by sending events to every peer the ROUTER heard from.
 * Usage: zeromq-server.ts <socket path>. Prints "ready" once bound.
 */
import { Router } from 'zeromq';
import { decodePushRequest, eventPayload } from '../../src/echo-client.js';
import { CONTROL_ID } from '../../src/framing.js';
import { exitWithParent } from '../../src/server-lifecycle.js';
import { CONTROL_FRAME, ipcEndpoint } from './zeromq-stack.js';

const address = process.argv[2];
if (address === undefined) throw new Error('usage: zeromq-server.ts <socket path>');

// mandatory: at a full queue, send waits instead of a ROUTER's default of dropping the message.
// sendTimeout: a peer that closed (an earlier workload's client) can keep a full queue until
// libzmq notices the disconnect; a send that cannot go on for this long gives up on the peer.
const router = new Router({ linger: 0, mandatory: true, sendTimeout: 1000 });
await router.bind(ipcEndpoint(address));
process.stdout.write('ready\n');
exitWithParent(async () => router.close());

// A ROUTER knows peers only by the identity of what they sent; subscribing is sending once.
const peers = new Map<string, Buffer>();
try {
  for await (const [identity, id, payload] of router) {
    if (identity === undefined || id === undefined || payload === undefined) continue;
    if (id.readUInt32LE(0) !== CONTROL_ID) {
      peers.set(identity.toString('hex'), identity);
      await router.send([identity, id, payload]);
      continue;
    }
    const { count, size } = decodePushRequest(payload);
    const event = eventPayload(size);
    for (let i = 0; i < count; i++) {
      for (const [key, peer] of peers) {
        try {
          await router.send([peer, CONTROL_FRAME, event]);
        } catch (error) {
          // A peer that disconnected, or stopped reading for a second, is forgotten.
          const { code } = error as { code?: string };
          if (code !== 'EHOSTUNREACH' && code !== 'EAGAIN') throw error;
          peers.delete(key);
        }
      }
    }
  }
} catch (error) {
  // Closing the socket on shutdown ends the loop with an error; anything else is a real failure.
  if (!router.closed) throw error;
}
