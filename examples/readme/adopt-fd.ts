import { IpcClient, IpcServer } from '@pollux/core';
import { NodePoller } from '@pollux/poll-node';
import { socketpair } from '@pollux/sys';
import { SocketTransport } from '@pollux/transport-socket';

// Two ends of one connection, made without an address (in practice, one end is passed to
// another process: inherited, or sent over a pollux connection with SCM_RIGHTS).
const [serverEnd, clientEnd] = socketpair();
const poller = new NodePoller();
const transport = new SocketTransport();

const server = new IpcServer({ poller, transport });
server.addService({ id: 1, name: 'echo', commands: { 0: (payload) => payload } });
server.adopt(transport.adopt(serverEnd)); // the server owns the fd from here on

const client = await IpcClient.connect(`fd:${clientEnd}`, { service: 'echo', poller, transport });
console.log((await client.request(0, Buffer.from('over a socketpair'))).toString());
await client.close();
await server.close();
