import { IpcServer } from '@pollux/core';
import { NodePoller } from '@pollux/poll-node';
import { SocketTransport } from '@pollux/transport-socket';

const server = new IpcServer({ poller: new NodePoller(), transport: new SocketTransport({ mode: 0o660 }) });
server.addService({ id: 1, name: 'echo', commands: { 0: (payload) => payload } });
await server.listen('/tmp/echo.sock'); // group members may connect: mode 0660
await server.close();
