import { connect, createServer } from 'pollux';

{
  await using server = createServer();
  server.addService({ id: 1, name: 'echo', commands: { 0: (payload) => payload } });
  await server.listen('@dispose-example');
  await using client = await connect('@dispose-example', 'echo');
  console.log((await client.request(0, Buffer.from('hi'))).toString());
} // client.close(), then server.close()
