/**
 * The node-ipc server, run as its own process: answers an `echo` message with the same sequence
 * number and payload, and a `push` message by broadcasting events to every client, node-ipc's
 * fan-out idiom. Usage: node-ipc-server.ts <socket path>. Prints "ready" once listening.
 */
import type { Socket } from 'node:net';
import { eventPayload } from '../../src/echo-client.js';
import { ECHO, EVENT, ipcInstance, PUSH, type EchoMessage } from './node-ipc-stack.js';
import { exitWithParent } from '../../src/server-lifecycle.js';

const address = process.argv[2];
if (address === undefined) throw new Error('usage: node-ipc-server.ts <socket path>');

const ipc = ipcInstance();
ipc.serve(address, () => {
  ipc.server.on(ECHO, (message: EchoMessage, socket: Socket) => {
    // Decoded and encoded again as a handler working on bytes would.
    const payload = Buffer.from(message.payload, 'base64');
    ipc.server.emit(socket, ECHO, { seq: message.seq, payload: payload.toString('base64') });
  });
  ipc.server.on(PUSH, (request: { count: number; size: number }) => {
    const event = eventPayload(request.size).toString('base64');
    for (let i = 0; i < request.count; i++) ipc.server.broadcast(EVENT, event);
  });
  process.stdout.write('ready\n');
});
ipc.server.start();
exitWithParent(async () => ipc.server.stop());
