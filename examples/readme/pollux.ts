import { connect, createServer } from 'pollux';

const server = createServer({ maxMessageSize: 256 * 1024 });
server.addService({
  id: 1,
  name: 'clock',
  commands: { 0: () => Buffer.from(new Date().toISOString()) },
  created: (connection) => connection.sendEvent(1, Buffer.from('welcome')),
});
await server.listen('@clock-example');

const client = await connect('@clock-example', 'clock');
client.on('event', (id, payload) => console.log(`event ${id}: ${payload.toString()}`));
console.log((await client.request(0)).toString());
await client.close();
await server.close();
