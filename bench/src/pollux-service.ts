/**
 * The bench's pollux service: command 0 echoes its payload, command 1 pushes events to every
 * open connection with a `sendEvent` per connection, command 2 the same with one `broadcast` per
 * event. Pushing follows the documented idiom for a full send queue: the event is refused
 * (`sendEvent` throws `EAGAIN`, `broadcast` returns the connection) and the server sends again
 * later (here: on the next turn of the loop).
 */
import { IpcError, type Connection, type HostedService, type IpcServer } from 'pollux';
import { decodePushRequest, eventPayload } from './echo-client.js';

export const ECHO_COMMAND = 0;
export const PUSH_COMMAND = 1;
export const BROADCAST_COMMAND = 2;
const EVENT = 0;

function sendEvents(connection: Connection, event: Buffer, count: number): void {
  let sent = 0;
  const sendSome = (): void => {
    try {
      for (; sent < count && connection.isOpen; sent++) connection.sendEvent(EVENT, event);
    } catch (error) {
      if (!(error instanceof IpcError && error.code === 'EAGAIN')) throw error;
      setImmediate(sendSome);
    }
  };
  sendSome();
}

/**
 * One broadcast per event while every connection keeps up; a connection whose queue is full
 * drops out of the broadcasts and gets the rest of its events on its own, as it drains.
 */
function broadcastEvents(service: HostedService, event: Buffer, count: number): void {
  const lagging = new Set<Connection>();
  const inStep = (connection: Connection): boolean => !lagging.has(connection);
  for (let sent = 0; sent < count; sent++) {
    const { refused } = service.broadcast(EVENT, event, lagging.size === 0 ? undefined : inStep);
    for (const connection of refused) {
      lagging.add(connection);
      sendEvents(connection, event, count - sent);
    }
  }
}

/** Adds the echo service to `server`. */
export function addEchoService(server: IpcServer): void {
  // The per-connection push is the baseline the broadcast is measured against: it keeps its own set.
  const connections = new Set<Connection>();
  const service: HostedService = server.addService({
    id: 1,
    name: 'echo',
    created: (connection) => connections.add(connection),
    closed: (connection) => connections.delete(connection),
    commands: {
      [ECHO_COMMAND]: (payload: Buffer) => payload,
      [PUSH_COMMAND]: (request: Buffer) => {
        const { count, size } = decodePushRequest(request);
        const event = eventPayload(size);
        for (const connection of connections) sendEvents(connection, event, count);
      },
      [BROADCAST_COMMAND]: (request: Buffer) => {
        const { count, size } = decodePushRequest(request);
        broadcastEvents(service, eventPayload(size), count);
      },
    },
  });
}
