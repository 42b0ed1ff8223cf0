import { connect, createServer, IpcError } from 'pollux';

const store = new Map([['answer', Buffer.from('42')]]);
const server = createServer();
server.addService({
  id: 1,
  name: 'kv',
  commands: {
    0: (key) => store.get(key.toString()) ?? Promise.reject(new IpcError('ENOENT', 'no such key')),
  },
  closed: (connection, reason) => console.log(`client ${connection.credentials.pid} left: ${reason.message}`),
});
await server.listen('@kv-example'); // a name in the abstract namespace, or a socket path

const client = await connect('@kv-example', 'kv');
console.log((await client.request(0, Buffer.from('answer'))).toString()); // 42
await client.close();
await server.close();
