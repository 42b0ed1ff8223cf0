/**
 * The bench's pollux service: command 0 echoes its payload, command 1 pushes events to every
 * open connection. Pushing follows the documented idiom for a full send queue: `sendEvent`
 * throws `EAGAIN`, and the server sends again later (here: on the next turn of the loop).
 */
import { IpcError, type Connection, type ServiceDefinition } from 'pollux';
import { decodePushRequest, eventPayload } from './echo-client.js';

export const ECHO_COMMAND = 0;
export const PUSH_COMMAND = 1;
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

export function echoService(): ServiceDefinition {
  const connections = new Set<Connection>();
  return {
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
    },
  };
}
