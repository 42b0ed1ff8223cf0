import { IpcClient, IpcServer } from '@pollux/core';
import { NodePoller } from '@pollux/poll-node';
import { SocketTransport } from '@pollux/transport-socket';

const poller = new NodePoller();
const transport = new SocketTransport();

const server = new IpcServer({ poller, transport, maxMessageSize: 64 * 1024 });
server.addService<{ hits: number }>({
  id: 1,
  name: 'counter',
  createContext: () => ({ hits: 0 }),
  commands: {
    0: (_payload, connection) => Buffer.from(String(++connection.context.hits)),
  },
  closed: (connection) => console.log(`session of pid ${connection.credentials.pid} freed`),
});
await server.listen('@counter-example');

const client = await IpcClient.connect('@counter-example', { service: 'counter', poller, transport });
await client.request(0);
console.log((await client.request(0)).toString()); // 2
await client.close();
await server.close();
