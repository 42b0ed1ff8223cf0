/**
 * The grpc-js server, run as its own process, bound to `unix:<socket path>`: unary `echo`, server
 * stream `subscribe` for events, unary `push`. Usage: grpc-server.ts <socket path>. Prints
 * "ready" once bound.
 */
import { Server, ServerCredentials, type ServerWritableStream, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { decodePushRequest, eventPayload } from '../../src/echo-client.js';
import { ECHO_SERVICE, grpcTarget } from './grpc-stack.js';
import { writeEvents } from '../../src/push-events.js';
import { exitWithParent } from '../../src/server-lifecycle.js';

const address = process.argv[2];
if (address === undefined) throw new Error('usage: grpc-server.ts <socket path>');

const subscribers = new Set<ServerWritableStream<Buffer, Buffer>>();

const implementation: UntypedServiceImplementation = {
  echo: (call: { request: Buffer }, reply: (error: null, response: Buffer) => void) => reply(null, call.request),
  subscribe: (call: ServerWritableStream<Buffer, Buffer>) => {
    subscribers.add(call);
    call.on('cancelled', () => subscribers.delete(call));
    call.write(Buffer.alloc(0));
  },
  push: (call: { request: Buffer }, reply: (error: null, response: Buffer) => void) => {
    const { count, size } = decodePushRequest(call.request);
    const event = eventPayload(size);
    for (const subscriber of subscribers) void writeEvents(subscriber, event, count);
    reply(null, Buffer.alloc(0));
  },
};

const server = new Server();
server.addService(ECHO_SERVICE, implementation);
server.bindAsync(grpcTarget(address), ServerCredentials.createInsecure(), (error) => {
  if (error !== null) throw error;
  process.stdout.write('ready\n');
});
exitWithParent(async () => server.forceShutdown());
