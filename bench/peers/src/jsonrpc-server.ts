/**
 * The vscode-jsonrpc server, run as its own process: one message connection per accepted Unix
 * socket; request `echo` returns its (base64) payload, request `push` sends `event`
 * notifications to every connection. Usage: jsonrpc-server.ts <socket path>. Prints "ready" once
 * listening.
 */
import { unlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import {
  createMessageConnection,
  SocketMessageReader,
  SocketMessageWriter,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import { eventPayload } from '../../src/echo-client.js';
import { ECHO, EVENT, PUSH, sendNotifications } from './jsonrpc-stack.js';
import { exitWithParent } from '../../src/server-lifecycle.js';

const address = process.argv[2];
if (address === undefined) throw new Error('usage: jsonrpc-server.ts <socket path>');

const connections = new Set<MessageConnection>();

const server = createServer((socket) => {
  const connection = createMessageConnection(new SocketMessageReader(socket), new SocketMessageWriter(socket));
  connections.add(connection);
  // Decoded and encoded again as a handler working on bytes would.
  connection.onRequest(ECHO, (payload: string) => Buffer.from(payload, 'base64').toString('base64'));
  connection.onRequest(PUSH, (count: number, size: number) => {
    const event = eventPayload(size).toString('base64');
    for (const each of connections) void sendNotifications(each, EVENT, event, count);
  });
  connection.onClose(() => connections.delete(connection));
  socket.on('error', () => socket.destroy());
  connection.listen();
});

try {
  unlinkSync(address);
} catch {
  // No stale socket file: nothing to remove.
}
server.listen(address, () => process.stdout.write('ready\n'));
exitWithParent(() => new Promise<void>((resolve) => server.close(() => resolve())));
