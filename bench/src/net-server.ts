/**
 * The node:net baseline server, run as its own process: echoes every frame back with the same
 * id, and answers a push request (id CONTROL_ID) by writing events to every open socket. Usage:
 * net-server.ts <socket path>. Prints "ready" once listening; exits on SIGTERM or when its
 * parent closes stdin.
 */
import { unlinkSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { decodePushRequest, eventPayload } from './echo-client.js';
import { CONTROL_ID, encodeFrame, FrameParser } from './framing.js';
import { writeEvents } from './push-events.js';
import { exitWithParent } from './server-lifecycle.js';

const address = process.argv[2];
if (address === undefined) throw new Error('usage: net-server.ts <socket path>');

const sockets = new Set<Socket>();

function pushEvents(request: Buffer): void {
  const { count, size } = decodePushRequest(request);
  const event = encodeFrame(CONTROL_ID, eventPayload(size));
  for (const socket of sockets) void writeEvents(socket, event, count);
}

function serve(socket: Socket): void {
  sockets.add(socket);
  const parser = new FrameParser((id, payload) => {
    if (id === CONTROL_ID) return pushEvents(payload);
    // One write per response frame (header and payload in one buffer)...
    socket.write(encodeFrame(id, payload));
  });
  socket.on('data', (chunk: Buffer) => {
    // ...but corked for the whole 'data' event, so all responses to one read leave in a single
    // writev: that is what a competent hand-written server does, and it is pollux's batching
    // counterpart.
    socket.cork();
    parser.push(chunk);
    socket.uncork();
  });
  socket.on('close', () => sockets.delete(socket));
  socket.on('error', () => socket.destroy());
}

try {
  unlinkSync(address);
} catch {
  // No stale socket file: nothing to remove.
}
const server = createServer(serve);
server.listen(address, () => {
  process.stdout.write('ready\n');
});
exitWithParent(
  () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
    }),
);
