import { connect, createServer } from 'pollux';

// One server, two ways in: a Unix socket, and shared memory set up over another socket.
const server = createServer();
server.addService({ id: 1, name: 'echo', commands: { 0: (payload) => payload } });
await server.listen('@echo-socket');
await server.listen('shm:@echo-shm');

const client = await connect('shm:@echo-shm', 'echo');
const big = Buffer.alloc(1 << 20, 7); // four times the ring: it streams through in pieces
console.log((await client.request(0, Buffer.from('hello over shared memory'))).toString());
console.log((await client.request(0, big)).equals(big));
await client.close();
await server.close();
